using System.Diagnostics;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Strategies;

/// <summary>LoRA options (fixed before any benchmark run).</summary>
public sealed record LoraOptions
{
    /// <summary>Smallest rank (no measurable shift).</summary>
    public int MinRank { get; init; } = 1;

    /// <summary>Largest rank (complete loss of accuracy on the new data).</summary>
    public int MaxRank { get; init; } = 16;

    /// <summary>Adam learning rate of the factors.</summary>
    public double LearningRate { get; init; } = 1e-3;
}

/// <summary>
/// Low-rank adaptation on parameters, not on layer classes: every predictive weight tensor W (rank ≥ 2, viewed as
/// [out, rest]) gets W = W₀ + B·A with A [r, rest] random and B [out, r] zero. A step writes W₀ + B·A into the
/// parameter, back-propagates the ordinary loss to get G = ∂L/∂W, and passes G through the product
/// (∂L/∂B = G·Aᵀ, ∂L/∂A = Bᵀ·G); Adam updates A and B only. Biases stay frozen. After the adaptation B·A is merged
/// into W₀, so the served model has the original shapes and works with any model a user brings.
/// The rank follows the measured shift s = max(0, (err_new − err_ref) / (1 − err_ref)), the excess error of the
/// current model on the new labelled data over its error on the reference data:
/// r = clamp(round(MinRank + s · (MaxRank − MinRank)), MinRank, min(MaxRank, out, rest)).
/// </summary>
public sealed class LoraStrategy(LoraOptions options) : IContinualStrategy
{
    /// <inheritdoc />
    public string Name => "lora";

    /// <summary>Rank for a measured shift (exposed for tests and docs).</summary>
    public static int RankFor(double shift, int minRank, int maxRank, long rows, long cols)
    {
        var s = Math.Clamp(double.IsNaN(shift) ? 0 : shift, 0, 1);
        var r = (int)Math.Round(minRank + s * (maxRank - minRank), MidpointRounding.AwayFromZero);
        return (int)Math.Max(1, Math.Min(Math.Min(r, maxRank), Math.Min(rows, cols)));
    }

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        var device = ComputeDevice.Resolve(context.Device);
        var sw = Stopwatch.StartNew();
        var model = current.Clone(device);
        model.DetachReadout(); // the classifier is trained by gradient and serves again
        try
        {
            var errNew = 1 - Accuracy(model, labelled);
            var errRef = 1 - Accuracy(model, context.Reference);
            var shift = errRef >= 1 ? 1 : Math.Max(0, (errNew - errRef) / (1 - errRef));
            long passes = labelled.Count + context.Reference.Count;

            var total = ParameterOps.Named(model).Sum(p => p.Parameter.numel());
            var targets = ParameterOps.Named(model).Where(p => ParameterOps.IsPredictive(model, p.Name) && p.Parameter.dim() >= 2).ToList();
            using var gen = new Generator((ulong)context.Seed + 5_151UL);
            var adapters = new List<Adapter>();
            foreach (var (name, p) in targets)
            {
                var rows = p.shape[0];
                var cols = p.numel() / rows;
                var r = RankFor(shift, options.MinRank, options.MaxRank, rows, cols);
                // Kaiming-style scale for A; B = 0 so the adapted model starts exactly at W₀.
                using var a0 = torch.randn(new long[] { r, cols }, generator: gen) / Math.Sqrt(cols);
                var a = new Parameter(a0.to(device), true);
                var b = new Parameter(torch.zeros(new long[] { rows, r }, device: device), true);
                adapters.Add(new Adapter(name, p, p.detach().clone(), a, b, r));
            }
            var factors = adapters.SelectMany(x => new[] { x.A, x.B }).ToList();
            using var opt = torch.optim.Adam(factors, options.LearningRate);
            var steps = context.Budget.StepsFor(labelled.Count);
            var batches = new Batches(labelled, context.Budget.BatchSize, context.Seed);
            var meter = new UpdateMeter(model);
            var saved = ParameterOps.Named(model).ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
            try
            {
                foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = adapters.Any(a => a.Name == name);
                model.Model.SetTraining(false);
                for (var i = 0; i < steps; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var (x, y) = batches.Next(device);
                    model.Model.ZeroGrad();
                    opt.zero_grad();
                    F.cross_entropy(model.Model.Forward(x), y).backward();
                    foreach (var ad in adapters)
                    {
                        if (ad.Weight.grad is not { } g) continue;
                        var delta = ad.B.matmul(ad.A);
                        delta.backward(new List<Tensor> { g.reshape(delta.shape).detach() });
                    }
                    meter.Before();
                    opt.step();
                    WriteMerged(adapters);
                    meter.After();
                    passes += x.shape[0];
                    context.Progress?.Report(new Tuning.TuningStep(i + 1, steps, "lora", double.NaN, meter.Last));
                }
            }
            finally
            {
                model.Model.ZeroGrad();
                foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = saved[name];
            }
            var trainable = adapters.Sum(a => a.A.numel() + a.B.numel());
            var ranks = string.Join(",", adapters.Select(a => a.Rank));
            foreach (var ad in adapters) ad.W0.Dispose();
            foreach (var f in factors) f.Dispose();
            model.SetInfo(model.Info with { Adaptations = current.Info.Adaptations + 1, Notes = $"lora ranks {ranks} merged, shift {shift:F3}" });
            return (model, new AdaptationStats
            {
                TrainSeconds = sw.Elapsed.TotalSeconds,
                SamplePasses = passes,
                SelectedFraction = (double)trainable / total,
                UpdatedFractionPerStep = meter.MeanFraction,
                OptimizerStateBytes = trainable * 8,
                Steps = steps,
                Detail = $"shift {shift:F3}, ranks {ranks}",
            });
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void WriteMerged(List<Adapter> adapters)
    {
        using var noGrad = torch.no_grad();
        foreach (var ad in adapters)
        {
            using var delta = ad.B.matmul(ad.A);
            using var merged = ad.W0 + delta.reshape(ad.W0.shape);
            ad.Weight.copy_(merged);
        }
    }

    private static double Accuracy(ModelBundle model, ImageDataset data)
    {
        var predicted = ParameterOps.PredictWithClassifier(model, data.Images);
        var truth = data.LabelArray();
        return truth.Length == 0 ? 0 : predicted.Zip(truth).Count(z => z.First == z.Second) / (double)truth.Length;
    }

    private sealed class Adapter(string name, Parameter weight, Tensor w0, Parameter a, Parameter b, int rank)
    {
        public string Name { get; } = name;
        public Parameter Weight { get; } = weight;
        public Tensor W0 { get; } = w0;
        public Parameter A { get; } = a;
        public Parameter B { get; } = b;
        public int Rank { get; } = rank;
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
