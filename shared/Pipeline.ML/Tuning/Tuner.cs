using System.Diagnostics;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Sensitivity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Tuning;

/// <summary>Tuning strategies.</summary>
public static class TuningStrategies
{
    /// <summary>MI-guided sparse tuning.</summary>
    public const string Mist = "mist";

    /// <summary>Full fine-tuning (every parameter, cross-entropy).</summary>
    public const string Full = "full";

    /// <summary>Classifier head only (frozen backbone, cross-entropy).</summary>
    public const string Head = "head";

    /// <summary>MIST's procedure with a random mask of the same budget (selection ablation).</summary>
    public const string Random = "random";

    /// <summary>The registry's other strategies (Pipeline.ML.Strategies), run as one adaptation each.</summary>
    public static readonly IReadOnlyList<string> Continual = Contracts.StrategyRegistry.Names.Except([Mist, Full, Head, Random]).ToList();

    /// <summary>All strategies (<see cref="Contracts.StrategyRegistry"/>).</summary>
    public static IReadOnlyList<string> All => Contracts.StrategyRegistry.Names;
}

/// <summary>Options of a tuning run.</summary>
public sealed record TuningOptions
{
    /// <summary>Optimizer steps (one mini-batch each) in total, all phases together.</summary>
    public int Steps { get; init; } = 100;

    /// <summary>Adam learning rate; null = the strategy's default (<see cref="Tuner.DefaultLearningRate"/>).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Probability that a masked element's update is dropped in a step (MIST and random only).</summary>
    public double DropRate { get; init; } = 0.9;

    /// <summary>Seed of batch order, augmentations and Bernoulli draws.</summary>
    public int Seed { get; init; }

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Mini-batch size.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Share of the steps spent in the MI phase (MIST and random); the rest tune the classifier head.</summary>
    public double MiPhaseFraction { get; init; } = 0.5;

    /// <summary>InfoNCE temperature.</summary>
    public double Temperature { get; init; } = 0.07;

    /// <summary>Per-element update scale for an element chosen in k earlier adaptations is OverlapPenalty^k.</summary>
    public double OverlapPenalty { get; init; } = 0.9;

    /// <summary>Select rate used when the tuner has to build the mask itself (no mask given).</summary>
    public double SelectRate { get; init; } = 0.02;
}

/// <summary>Progress of one optimizer step.</summary>
public sealed record TuningStep(int Step, int TotalSteps, string Phase, double Loss, double UpdatedFraction);

/// <summary>Statistics of a tuning run (fractions are of all model parameters).</summary>
public sealed record TuningStats
{
    /// <summary>Strategy used.</summary>
    [JsonPropertyName("strategy")]
    public required string Strategy { get; init; }

    /// <summary>Elements allowed to change / all parameters.</summary>
    [JsonPropertyName("selected_fraction")]
    public double SelectedFraction { get; init; }

    /// <summary>Measured: mean over steps of (elements whose value changed in the step / all parameters).</summary>
    [JsonPropertyName("updated_fraction_per_step")]
    public double UpdatedFractionPerStep { get; init; }

    /// <summary>Largest per-step updated fraction observed.</summary>
    [JsonPropertyName("updated_fraction_max")]
    public double UpdatedFractionMax { get; init; }

    /// <summary>Elements that differ from the base model at the end / all parameters.</summary>
    [JsonPropertyName("changed_fraction_total")]
    public double ChangedFractionTotal { get; init; }

    /// <summary>Optimizer steps taken.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; }

    /// <summary>Wall-clock seconds of the tuning loop.</summary>
    [JsonPropertyName("train_seconds")]
    public double TrainSeconds { get; init; }

    /// <summary>Bytes of optimizer state (moments, step counts, indices).</summary>
    [JsonPropertyName("optimizer_state_bytes")]
    public long OptimizerStateBytes { get; init; }

    /// <summary>"cpu" or "cuda".</summary>
    [JsonPropertyName("device")]
    public required string Device { get; init; }

    /// <summary>Learning rate used.</summary>
    [JsonPropertyName("learning_rate")]
    public double LearningRate { get; init; }

    /// <summary>Loss of the last step.</summary>
    [JsonPropertyName("final_loss")]
    public double FinalLoss { get; init; }
}

/// <summary>A tuned model and how it was made. Dispose to free the model.</summary>
public sealed record TuningResult(ModelBundle Model, TuningStats Stats) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>Adapts a model to labelled adaptation data with one of the <see cref="TuningStrategies"/>.</summary>
public static class Tuner
{
    /// <summary>
    /// Default learning rates, fixed before any benchmark run: Adam's customary 1e-3 for dense fine-tuning;
    /// 1e-2 for the strategies that change ≤ 5% of the parameters (head-only, MIST, random), the customary
    /// linear-probe rate.
    /// </summary>
    public static double DefaultLearningRate(string strategy) => strategy == TuningStrategies.Full ? 1e-3 : 1e-2;

    private sealed record Phase(string Name, int Steps, Func<string, bool> Trainable, bool MiLoss, double DropRate);

    /// <summary>
    /// Tunes a copy of <paramref name="baseModel"/> (the base is not modified). For "mist" the mask is the
    /// MI-Fisher mask (computed here when null); for "random" a random mask of the same budget (computed when
    /// null); "full" and "head" ignore the mask.
    /// </summary>
    public static TuningResult Tune(string strategy, ModelBundle baseModel, SensitivityMask? mask, ImageDataset adaptation,
        TuningOptions? options = null, IProgress<TuningStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        ArgumentNullException.ThrowIfNull(adaptation);
        var o = options ?? new TuningOptions();
        var s = (strategy ?? throw new ArgumentNullException(nameof(strategy))).Trim().ToLowerInvariant();
        if (!TuningStrategies.All.Contains(s)) throw new ArgumentException($"unknown strategy '{strategy}' (known: {string.Join(", ", TuningStrategies.All)})", nameof(strategy));
        if (o.Steps < 1) throw new ArgumentOutOfRangeException(nameof(options), "steps must be ≥ 1");
        if (o.DropRate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), "drop_rate must be in [0, 1)");
        if (adaptation.Count < 2) throw new ArgumentException("the adaptation set needs at least 2 samples", nameof(adaptation));

        if (TuningStrategies.Continual.Contains(s)) return ContinualTuning.Tune(s, baseModel, adaptation, o, cancellationToken);
        var device = ComputeDevice.Resolve(o.Device);
        var lr = o.LearningRate ?? DefaultLearningRate(s);
        torch.manual_seed(o.Seed);
        var model = baseModel.Clone(device);
        // Every strategy here trains the classifier by gradient: it serves again, a readout of the old embedding would be stale.
        model.DetachReadout();
        SensitivityMask? ownedMask = null;
        try
        {
            SensitivityMask effective;
            switch (s)
            {
                case TuningStrategies.Mist:
                    effective = mask ?? (ownedMask = SensitivityScorer.Score(model, adaptation,
                        new ScoringOptions { SelectRate = o.SelectRate, Seed = o.Seed, Temperature = o.Temperature }, null, cancellationToken));
                    break;
                case TuningStrategies.Random:
                    effective = mask ?? (ownedMask = SensitivityScorer.RandomMask(model, o.SelectRate, o.Seed));
                    break;
                default:
                    effective = ownedMask = SensitivityScorer.DenseMask(model, s);
                    break;
            }
            effective.EnsureCompatible(model);

            var miSteps = (int)Math.Round(o.Steps * o.MiPhaseFraction);
            var phases = s switch
            {
                TuningStrategies.Full => [new Phase("ce", o.Steps, _ => true, false, 0)],
                TuningStrategies.Head => [new Phase("ce", o.Steps, n => model.Model.GroupOf(n) == ParameterGroup.Classifier, false, 0)],
                _ => new[]
                {
                    new Phase("mi", miSteps, n => model.Model.GroupOf(n) != ParameterGroup.Classifier, true, o.DropRate),
                    new Phase("head", o.Steps - miSteps, n => model.Model.GroupOf(n) == ParameterGroup.Classifier, false, o.DropRate),
                },
            };

            var stats = Run(s, model, effective, adaptation, o, lr, phases, device, progress, cancellationToken, baseModel);
            if (s is TuningStrategies.Mist or TuningStrategies.Random) RecordSelection(model, effective);
            model.SetInfo(model.Info with
            {
                Adaptations = baseModel.Info.Adaptations + 1,
                Notes = $"tuned with {s} ({o.Steps} steps, lr {lr}, seed {o.Seed})",
            });
            return new TuningResult(model, stats with { SelectedFraction = effective.SelectedFraction });
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            ownedMask?.Dispose();
        }
    }

    private static TuningStats Run(string strategy, ModelBundle bundle, SensitivityMask mask, ImageDataset data, TuningOptions o,
        double lr, IReadOnlyList<Phase> phases, Device device, IProgress<TuningStep>? progress, CancellationToken ct, ModelBundle baseModel)
    {
        var net = bundle.Model;
        var all = net.NamedParameters();
        var total = all.Sum(p => p.Parameter.numel());
        // A user's model has no projection head: one is created beside it for the MI phase, trained with it, dropped after.
        using var head = phases.Any(p => p.MiLoss && p.Steps > 0) ? ProjectionHead.For(net, data.Images, o.Seed) : null;
        var headParams = head?.OwnParameters ?? [];
        using var gen = new Generator((ulong)o.Seed + 17UL);
        var rng = new System.Random(o.Seed);
        var order = ImageDataset.Permutation(data.Count, o.Seed);
        var cursor = 0;
        var batch = Math.Min(o.BatchSize, data.Count);
        var saved = all.ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
        double sumFraction = 0, maxFraction = 0, lastLoss = double.NaN;
        long maxState = 0;
        var stepIndex = 0;
        var sw = Stopwatch.StartNew();
        try
        {
            foreach (var phase in phases)
            {
                if (phase.Steps <= 0) continue;
                var trainable = all.Where(p => phase.Trainable(p.Name)).ToList();
                foreach (var (name, p) in all) p.requires_grad = phase.Trainable(name);
                var entries = trainable.Select(p => (p.Parameter, mask.Masks[p.Name], bundle.SelectionCounts.GetValueOrDefault(p.Name))).ToList();
                var headMasks = new List<Tensor>();
                if (phase.MiLoss)
                {
                    foreach (var (_, hp) in headParams)
                    {
                        var ones = torch.ones(hp.shape, dtype: ScalarType.Bool);
                        headMasks.Add(ones);
                        entries.Add((hp, ones, null));
                    }
                }
                using var opt = new MaskedAdam(entries, lr, phase.DropRate, o.OverlapPenalty, gen);
                foreach (var m in headMasks) m.Dispose();
                maxState = Math.Max(maxState, opt.StateBytes);
                // Only the model's own parameters count as updated: a created projection head is not part of the model.
                var touched = opt.Parameters.Where(p => trainable.Any(t => ReferenceEquals(t.Parameter, p))).ToList();
                // Evaluation mode throughout: batch-norm running statistics stay those of the base model (buffers are
                // never written), dropout is off; only parameters move, and only inside the mask.
                net.SetTraining(false);
                for (var i = 0; i < phase.Steps; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    if (cursor + batch > order.Length)
                    {
                        order = ImageDataset.Permutation(data.Count, rng.Next());
                        cursor = 0;
                    }
                    using var idx = torch.tensor(order.AsSpan(cursor, batch).ToArray(), ScalarType.Int64);
                    cursor += batch;
                    var x = data.Images.index_select(0, idx).to(device);
                    var y = data.Labels.index_select(0, idx).to(device);
                    var before = touched.Select(p => p.detach().clone()).ToList();
                    net.ZeroGrad();
                    foreach (var (_, hp) in headParams) hp.grad?.zero_();
                    var loss = phase.MiLoss
                        ? MiObjective.Loss(net, head!.Module, x, y, gen, o.Temperature, bundle.UnitScale)
                        : F.cross_entropy(net.Forward(x), y);
                    loss.backward();
                    opt.Step();
                    long changed = 0;
                    using (torch.no_grad())
                    {
                        for (var j = 0; j < touched.Count; j++) changed += touched[j].ne(before[j]).sum().ToInt64();
                    }
                    var fraction = (double)changed / total;
                    sumFraction += fraction;
                    maxFraction = Math.Max(maxFraction, fraction);
                    lastLoss = loss.ToDouble();
                    stepIndex++;
                    progress?.Report(new TuningStep(stepIndex, o.Steps, phase.Name, lastLoss, fraction));
                }
            }
        }
        finally
        {
            net.ZeroGrad();
            foreach (var (name, p) in all) p.requires_grad = saved[name];
        }
        sw.Stop();
        long changedTotal = 0;
        using (torch.no_grad())
        {
            var baseParams = baseModel.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            foreach (var (name, p) in all)
            {
                using var b = baseParams[name].to(p.device);
                using var ne = p.ne(b);
                changedTotal += ne.sum().ToInt64();
            }
        }
        return new TuningStats
        {
            Strategy = strategy,
            UpdatedFractionPerStep = stepIndex == 0 ? 0 : sumFraction / stepIndex,
            UpdatedFractionMax = maxFraction,
            ChangedFractionTotal = (double)changedTotal / total,
            Steps = stepIndex,
            TrainSeconds = sw.Elapsed.TotalSeconds,
            OptimizerStateBytes = maxState,
            Device = ComputeDevice.Describe(device),
            LearningRate = lr,
            FinalLoss = lastLoss,
        };
    }

    private static void RecordSelection(ModelBundle model, SensitivityMask mask)
    {
        foreach (var (name, p) in model.Model.NamedParameters())
        {
            if (!SensitivityScorer.IsScored(model.Model, name, p)) continue;
            var add = mask.Masks[name].to(ScalarType.Int16);
            if (model.SelectionCounts.TryGetValue(name, out var old))
            {
                model.SelectionCounts[name] = old + add;
                old.Dispose();
                add.Dispose();
            }
            else
            {
                model.SelectionCounts[name] = add;
            }
        }
    }
}
