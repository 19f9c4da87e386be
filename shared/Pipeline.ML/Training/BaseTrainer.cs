using System.Globalization;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Training;

/// <summary>Options of base-model training on original (unshifted) data.</summary>
public sealed record BaseTrainingOptions
{
    /// <summary>"cnn-small" or "mlp".</summary>
    public string Architecture { get; init; } = "cnn-small";

    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 2;

    /// <summary>Samples taken from the start of the training split (0 = all).</summary>
    public int TrainSize { get; init; }

    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Seed of initialisation and batch order.</summary>
    public int Seed { get; init; }

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";
}

/// <summary>Progress of base training.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, int Epoch, double Loss);

/// <summary>Trains base models and caches them on disk.</summary>
public static class BaseTrainer
{
    /// <summary>$PIPELINE_CACHE_DIR, else ~/.cache/pipeline.</summary>
    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("PIPELINE_CACHE_DIR") is { Length: > 0 } d
            ? d
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pipeline");

    /// <summary>Cache file name for the options (seed, architecture, epochs, data size, batch, lr).</summary>
    public static string CacheKey(BaseTrainingOptions options, int trainCount)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.Create(CultureInfo.InvariantCulture,
            $"base-{options.Architecture}-seed{options.Seed}-e{options.Epochs}-n{trainCount}-b{options.BatchSize}-lr{options.LearningRate:G6}-v1.model");
    }

    /// <summary>Loads the cached model for these options, or trains it and writes the cache.</summary>
    public static (ModelBundle Model, bool FromCache) TrainOrLoad(ImageDataset train, BaseTrainingOptions options, string? cacheDirectory = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        var n = options.TrainSize > 0 ? Math.Min(options.TrainSize, train.Count) : train.Count;
        var dir = Path.Combine(cacheDirectory ?? DefaultCacheDirectory, "models");
        var path = Path.Combine(dir, CacheKey(options, n));
        var device = ComputeDevice.Resolve(options.Device);
        if (File.Exists(path))
        {
            try
            {
                return (ModelBundle.Load(path, device), true);
            }
            catch (InvalidDataException)
            {
                File.Delete(path);
            }
        }
        var model = Train(train, options, progress, cancellationToken);
        Directory.CreateDirectory(dir);
        model.Save(path);
        return (model, false);
    }

    /// <summary>Trains a base model with cross-entropy and Adam.</summary>
    public static ModelBundle Train(ImageDataset train, BaseTrainingOptions options, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        var n = options.TrainSize > 0 ? Math.Min(options.TrainSize, train.Count) : train.Count;
        var device = ComputeDevice.Resolve(options.Device);
        var bundle = ModelBundle.Create(options.Architecture, options.Seed,
            string.Create(CultureInfo.InvariantCulture, $"base: {options.Epochs} epochs on {n} Fashion-MNIST training images, seed {options.Seed}"));
        try
        {
            bundle.To(device);
            var net = bundle.Model;
            using var opt = torch.optim.Adam(net.Module.parameters(), options.LearningRate);
            var perEpoch = (n + options.BatchSize - 1) / options.BatchSize;
            var totalSteps = perEpoch * options.Epochs;
            var step = 0;
            net.SetTraining(true);
            for (var epoch = 0; epoch < options.Epochs; epoch++)
            {
                var order = ImageDataset.Permutation(n, options.Seed * 1000 + epoch);
                for (var b = 0; b < perEpoch; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var start = b * options.BatchSize;
                    var len = Math.Min(options.BatchSize, n - start);
                    using var idx = torch.tensor(order.AsSpan(start, len).ToArray(), ScalarType.Int64);
                    var x = train.Images.index_select(0, idx).to(device);
                    var y = train.Labels.index_select(0, idx).to(device);
                    opt.zero_grad();
                    var loss = F.cross_entropy(net.Forward(x), y);
                    loss.backward();
                    opt.step();
                    step++;
                    if (progress is not null && (step % 10 == 0 || step == totalSteps))
                        progress.Report(new TrainingProgress(step, totalSteps, epoch + 1, loss.ToDouble()));
                }
            }
            net.ZeroGrad();
            net.SetTraining(false);
            return bundle;
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }
}
