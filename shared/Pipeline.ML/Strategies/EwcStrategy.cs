using System.Diagnostics;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Strategies;

/// <summary>EWC options (fixed before any benchmark run).</summary>
public sealed record EwcOptions
{
    /// <summary>Penalty strength λ in λ/2 · Σ F·(θ − θ*)².</summary>
    public double Lambda { get; init; } = 100;

    /// <summary>Peak Adam learning rate of the last layer.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Per-depth rate: a layer d steps below the last gets LearningRate · DepthDecay^d.</summary>
    public double DepthDecay { get; init; } = 0.7;

    /// <summary>Share of steps in linear warm-up; the rest decays by a cosine to 0.</summary>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>Elements whose old-data importance is at most this per-tensor quantile may change …</summary>
    public double ImportanceQuantile { get; init; } = 0.5;

    /// <summary>… and whose new-data sensitivity is at least this per-tensor quantile.</summary>
    public double SensitivityQuantile { get; init; } = 0.5;

    /// <summary>Mini-batch size of the Fisher estimate.</summary>
    public int FisherBatch { get; init; } = 16;
}

/// <summary>
/// Elastic weight consolidation (Kirkpatrick et al. 2017) with importance masking and staged learning rates.
/// Importance is the diagonal empirical Fisher (mean squared cross-entropy gradient over mini-batches of
/// <c>FisherBatch</c>), first on the reference (original) data, then accumulated with each learned regime (online
/// EWC). An adaptation updates only elements unimportant to the old data and sensitive to the new one, under the
/// quadratic penalty around the previous weights, with warm-up, per-depth rates and cosine decay.
/// </summary>
public sealed class EwcStrategy(EwcOptions options) : IContinualStrategy
{
    private Dictionary<string, Tensor>? fisher;

    /// <inheritdoc />
    public string Name => "ewc";

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        var device = ComputeDevice.Resolve(context.Device);
        var sw = Stopwatch.StartNew();
        long passes = 0;
        var model = current.Clone(device);
        model.DetachReadout(); // the classifier is trained by gradient and serves again
        try
        {
            var all = ParameterOps.Named(model).Where(p => ParameterOps.IsPredictive(model, p.Name)).ToList();
            var total = ParameterOps.Named(model).Sum(p => p.Parameter.numel());
            if (fisher is null)
            {
                fisher = Fisher(model, all, context.Reference, device);
                passes += context.Reference.Count;
            }
            var sensitivity = Fisher(model, all, labelled, device);
            passes += labelled.Count;
            var anchor = all.ToDictionary(p => p.Name, p => p.Parameter.detach().clone().DetachFromDisposeScope());
            var masks = new Dictionary<string, Tensor>();
            long selected = 0;
            foreach (var (name, _) in all)
            {
                using var lowImportance = fisher[name].le(Quantile(fisher[name], options.ImportanceQuantile));
                using var sensitive = sensitivity[name].ge(Quantile(sensitivity[name], options.SensitivityQuantile));
                masks[name] = lowImportance.logical_and(sensitive).to(ScalarType.Float32).DetachFromDisposeScope();
                selected += masks[name].sum().ToInt64();
            }
            foreach (var s in sensitivity.Values) s.Dispose();

            // Per-depth rates: parameters of the same layer share a depth; the classifier is the deepest.
            var layers = all.Select(p => LayerOf(p.Name)).Distinct().ToList();
            var groups = all.Select(p => (p.Name, p.Parameter, Depth: layers.Count - 1 - layers.IndexOf(LayerOf(p.Name)))).ToList();
            var paramGroups = groups.Select(g => new Adam.ParamGroup(new[] { g.Parameter }, new Adam.Options { LearningRate = LrFor(g.Depth, 1.0) })).ToList();
            using var opt = torch.optim.Adam(paramGroups, options.LearningRate);
            var steps = context.Budget.StepsFor(labelled.Count);
            var warm = Math.Max(1, (int)Math.Round(steps * options.WarmupFraction));
            var batches = new Batches(labelled, context.Budget.BatchSize, context.Seed);
            var meter = new UpdateMeter(model);
            var saved = ParameterOps.Named(model).ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
            try
            {
                foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = ParameterOps.IsPredictive(model, name);
                // Evaluation mode: norm layers' running statistics stay the deployed ones (docs/decisions.md).
                model.Model.SetTraining(false);
                for (var i = 0; i < steps; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var factor = i < warm ? (i + 1) / (double)warm : 0.5 * (1 + Math.Cos(Math.PI * (i - warm) / Math.Max(1, steps - warm)));
                    var pgs = opt.ParamGroups.ToList();
                    for (var g = 0; g < groups.Count; g++) pgs[g].LearningRate = LrFor(groups[g].Depth, factor);
                    var (x, y) = batches.Next(device);
                    opt.zero_grad();
                    var loss = F.cross_entropy(model.Model.Forward(x), y);
                    foreach (var (name, p) in all)
                        loss = loss + (fisher[name].to(device) * (p - anchor[name]).square()).sum() * (options.Lambda / 2);
                    loss.backward();
                    using (torch.no_grad())
                    {
                        foreach (var (name, p) in all) p.grad?.mul_(masks[name]);
                    }
                    meter.Before();
                    opt.step();
                    RestoreOutsideMask(all, anchor, masks);
                    meter.After();
                    passes += x.shape[0];
                    context.Progress?.Report(new Tuning.TuningStep(i + 1, steps, "ewc", loss.ToDouble(), meter.Last));
                }
            }
            finally
            {
                model.Model.ZeroGrad();
                foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = saved[name];
            }

            // Online EWC: the regime just learned joins the old data whose knowledge is protected.
            var newFisher = Fisher(model, all, labelled, device);
            passes += labelled.Count;
            foreach (var (name, f) in newFisher)
            {
                fisher[name].add_(f);
                f.Dispose();
            }
            foreach (var t in anchor.Values) t.Dispose();
            foreach (var t in masks.Values) t.Dispose();
            model.SetInfo(model.Info with { Adaptations = current.Info.Adaptations + 1, Notes = $"ewc λ={options.Lambda}, {steps} steps" });
            return (model, new AdaptationStats
            {
                TrainSeconds = sw.Elapsed.TotalSeconds,
                SamplePasses = passes,
                SelectedFraction = (double)selected / total,
                UpdatedFractionPerStep = meter.MeanFraction,
                OptimizerStateBytes = all.Sum(p => p.Parameter.numel()) * 8L + fisher.Values.Sum(f => f.numel() * 4),
                Steps = steps,
            });
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private double LrFor(int depth, double factor) => options.LearningRate * Math.Pow(options.DepthDecay, depth) * factor;

    private static string LayerOf(string name)
    {
        var dot = name.LastIndexOf('.');
        return dot < 0 ? name : name[..dot];
    }

    private static double Quantile(Tensor t, double q)
    {
        using var flat = t.flatten();
        using var sorted = flat.sort().Values;
        var pos = (long)Math.Clamp(Math.Round(q * (flat.numel() - 1)), 0, flat.numel() - 1);
        return sorted[pos].ToDouble();
    }

    // Adam's moments keep moving an element after its gradient was masked to zero; the mask is a hard guarantee,
    // so elements outside it are put back to their exact previous values.
    private static void RestoreOutsideMask(List<(string Name, Parameter Parameter)> all, Dictionary<string, Tensor> anchor, Dictionary<string, Tensor> masks)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in all)
        {
            using var keep = masks[name].to(p.device).eq(0);
            using var old = anchor[name].to(p.device);
            using var restored = old.where(keep, p);
            p.copy_(restored);
        }
    }

    private Dictionary<string, Tensor> Fisher(ModelBundle model, List<(string Name, Parameter Parameter)> parameters, ImageDataset data, Device device)
    {
        var acc = parameters.ToDictionary(p => p.Name, p => torch.zeros(p.Parameter.shape).DetachFromDisposeScope());
        var saved = ParameterOps.Named(model).ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
        var batches = 0;
        try
        {
            foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = ParameterOps.IsPredictive(model, name);
            model.Model.SetTraining(false);
            for (var s = 0; s < data.Count; s += options.FisherBatch)
            {
                using var scope = torch.NewDisposeScope();
                var len = Math.Min(options.FisherBatch, data.Count - s);
                model.Model.ZeroGrad();
                var x = data.Images.narrow(0, s, len).to(device);
                var y = data.Labels.narrow(0, s, len).to(device);
                F.cross_entropy(model.Model.Forward(x), y).backward();
                using (torch.no_grad())
                {
                    foreach (var (name, p) in parameters)
                    {
                        if (p.grad is { } g) acc[name].add_(g.square().cpu());
                    }
                }
                batches++;
            }
        }
        finally
        {
            model.Model.ZeroGrad();
            foreach (var (name, p) in ParameterOps.Named(model)) p.requires_grad = saved[name];
        }
        foreach (var t in acc.Values) t.div_(Math.Max(1, batches));
        return acc;
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictWithClassifier(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
        if (fisher is null) return;
        foreach (var f in fisher.Values) f.Dispose();
    }
}
