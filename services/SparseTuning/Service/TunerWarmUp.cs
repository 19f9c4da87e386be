using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.ML.Models;
using TorchSharp;

namespace Pipeline.SparseTuning;

/// <summary>
/// Warms libtorch before the tuner takes its first job: loads the native library, starts its thread pools and runs
/// one training step (forward, backward, optimizer step) of the built-in CNN at the job's batch size on the job's
/// device. The module registers it before the bus, and hosted services start in order, so the bus takes no job
/// before it has finished: a tuner KEDA scales from zero pays this once at start, not inside its first run's timings.
/// </summary>
public sealed class TunerWarmUp(IOptions<TuningServiceOptions> options, ILogger<TunerWarmUp> logger) : IHostedService
{
    /// <summary>How long the warm-up took (null until it ran); for the log and tests.</summary>
    public TimeSpan? Elapsed { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var watch = Stopwatch.StartNew();
        var device = ComputeDevice.Resolve(o.Device);
        Step(device, Math.Min(o.BatchSize, 256), o.Seed);
        Elapsed = watch.Elapsed;
        logger.LogInformation("libtorch warmed on {Device} in {Milliseconds:F0} ms (one training step of cnn-small, batch {Batch})",
            ComputeDevice.Describe(device), Elapsed.Value.TotalMilliseconds, Math.Min(o.BatchSize, 256));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One SGD step of a fresh built-in CNN on random images: the kernels a tuning job runs first.</summary>
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
    }
}
