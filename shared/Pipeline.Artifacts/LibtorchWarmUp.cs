using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.ML.Models;
using TorchSharp;

using Pipeline.Hosting;

namespace Pipeline.Artifacts;

/// <summary>
/// Warms a worker before its bus takes the first job: loads libtorch and starts its thread pools, runs one training
/// step (forward, backward, optimizer step) of the built-in CNN at the job's batch size on the job's device, and
/// writes and reads one model file, so the first job's model loading and first passes are not cold. A module
/// registers it before the bus (hosted services start in order): a worker scaled from zero pays this once at start,
/// not inside its first run. In a host running several workers (Standalone) the process is warmed once per device.
/// </summary>
public abstract class LibtorchWarmUp(ILogger logger) : IHostedService
{
    private static readonly ConcurrentDictionary<string, bool> Warmed = new();

    /// <summary>How long the warm-up took (null until it ran; zero when this process was already warm on the device).</summary>
    public TimeSpan? Elapsed { get; private set; }

    /// <summary>The worker's device ("auto", "cpu", "cuda"), batch size and seed.</summary>
    protected abstract (string Device, int Batch, int Seed) Plan { get; }

    /// <summary>How long the worker's own paths took (<see cref="WarmPathsAsync"/>; null until it ran).</summary>
    public TimeSpan? PathsElapsed { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var (deviceName, batch, seed) = Plan;
        var watch = Stopwatch.StartNew();
        var device = ComputeDevice.Resolve(deviceName);
        var described = ComputeDevice.Describe(device);
        if (Warmed.TryAdd(described, true))
        {
            Step(device, Math.Clamp(batch, 1, 256), seed);
            Elapsed = watch.Elapsed;
            logger.LogInformation("libtorch warmed on {Device} in {Milliseconds:F0} ms (one training step of cnn-small, batch {Batch}, one model file written and read)",
                described, Elapsed.Value.TotalMilliseconds, Math.Clamp(batch, 1, 256));
        }
        else
        {
            Elapsed = TimeSpan.Zero;
        }

        var paths = Stopwatch.StartNew();
        if (await BestEffortWarmUp.RunAsync(logger, GetType().Name, () => WarmPathsAsync(cancellationToken), cancellationToken))
        {
            PathsElapsed = paths.Elapsed;
            logger.LogInformation("{WarmUp}: the first job's paths warmed in {Milliseconds:F0} ms", GetType().Name, PathsElapsed.Value.TotalMilliseconds);
        }
    }

    /// <summary>
    /// The worker's own first-job paths outside libtorch's start (storage queries, artifact store, message contracts, its
    /// library call on a small synthetic input; <see cref="WorkerWarmUp"/>), run once per warm-up after the libtorch step.
    /// Writes no row and leaves no artifact.
    /// </summary>
    protected virtual Task WarmPathsAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One SGD step of a fresh built-in CNN on random images, then the model through a file and one forward pass.</summary>
    public static void Step(torch.Device device, int batch, int seed)
    {
        using var scope = torch.NewDisposeScope();
        using var model = ModelBundle.Create("cnn-small", seed).To(device);
        var network = model.Model;
        network.SetTraining(true);
        var parameters = network.NamedParameters().Select(p => p.Parameter).ToList();
        using var optimizer = torch.optim.SGD(parameters, 1e-3, momentum: 0.9);
        using var generator = new torch.Generator((ulong)seed);
        var images = torch.rand([batch, .. model.Info.InputShape.Select(d => (long)d)], generator: generator).to(device);
        var labels = torch.randint(0, model.Info.Classes.Length, [batch], generator: generator).to(device);
        optimizer.zero_grad();
        var loss = torch.nn.functional.cross_entropy(network.Forward(images), labels);
        loss.backward();
        optimizer.step();

        var path = Path.Combine(Path.GetTempPath(), $"pipeline-warm-up-{Environment.ProcessId}-{Guid.NewGuid():N}.model");
        try
        {
            model.Save(path);
            using var loaded = ModelBundle.Load(path, device);
            loaded.Model.SetTraining(false);
            using (torch.no_grad())
            {
                loaded.Model.Forward(images).Dispose();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
