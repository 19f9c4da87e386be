using System.Diagnostics;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using Pipeline.ML.Sensitivity;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>MIST as its published code runs it (github zhwhu/MIST, models/simplecil_mist.py and ranpac_mist.py).</summary>
public sealed record MistOptions
{
    /// <summary>Fraction kept per backbone weight tensor (code: 0.1; 0.05 here keeps the whole mask under the paper's 5%).</summary>
    public double SelectRate { get; init; } = 0.05;

    /// <summary>Probability that a masked element's gradient is dropped in a step (code: drop_rate 0.9).</summary>
    public double DropRate { get; init; } = 0.9;

    /// <summary>Backbone learning rate (code: 0.01 × 0.01).</summary>
    public double BackboneLr { get; init; } = 1e-4;

    /// <summary>Projection-head learning rate (code: 0.01).</summary>
    public double ProjectionLr { get; init; } = 1e-2;

    /// <summary>SGD momentum (code: 0.9).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Weight decay (code: 5e-4), applied only to drawn masked elements.</summary>
    public double WeightDecay { get; init; } = 5e-4;

    /// <summary>NT-Xent temperature (code: 0.07).</summary>
    public double Temperature { get; init; } = 0.07;

    /// <summary>Gradient scale for an element selected in k earlier adaptations: OverlapPenalty^k (code: 0.9).</summary>
    public double OverlapPenalty { get; init; } = 0.9;

    /// <summary>The selection ablation: a random mask of the same size instead of the MI-Fisher one.</summary>
    public bool RandomMask { get; init; }

    /// <summary>Random features of the ridge readout (RanPAC's M; the code uses 10,000 for a 768-d ViT).</summary>
    public int RidgeProjectionDim { get; init; } = 1024;

    /// <summary>
    /// Weight of the deployed model's own probabilities in a new ridge readout's targets on the reference rows
    /// (0 = labels only, as RanPAC; see <see cref="ReadoutStart.Ensure"/>).
    /// </summary>
    public double ReadoutDistillation { get; init; } = ReadoutDefaults.Distillation;
}

/// <summary>
/// MIST: one scoring pass (MI-Fisher = accumulated squared gradient of the supervised NT-Xent on a clean and a
/// strongly augmented view), a per-tensor top-<c>SelectRate</c> mask of the backbone weights (biases in full),
/// then Epochs − 1 passes of the NT-Xent loss with masked, Bernoulli-dropped, 0.9^k-scaled gradients and split-rate
/// SGD with momentum. Each adaptation freezes the elements with the highest score of every weight tensor for
/// good. The classifier is never trained by gradient: a prototype or ridge readout, whose statistics accumulate over
/// the original distribution and every regime, replaces it. All state that crosses adaptations lives in the model
/// (<see cref="ModelBundle.Readout"/>, <see cref="ModelBundle.FrozenElements"/>, <see cref="ModelBundle.SelectionCounts"/>)
/// and is saved with it, so a served model adapted again (by a new strategy instance) continues where it stopped.
/// </summary>
public sealed class MistStrategy : IContinualStrategy
{
    private readonly MistOptions options;
    private readonly string readoutKind;
    private readonly int classes;
    private readonly int readoutSeed;

    /// <summary>Creates the strategy with a "prototype" or "ridge" readout (sized from the first embeddings it sees).</summary>
    public MistStrategy(MistOptions options, string name, string readoutKind, int classes, int seed = 0)
    {
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        if (readoutKind is not ("prototype" or "ridge")) throw new ArgumentException($"unknown readout '{readoutKind}' (prototype|ridge)", nameof(readoutKind));
        Name = name;
        this.readoutKind = readoutKind;
        this.classes = classes;
        readoutSeed = seed;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        if (labelled.Count < 2) throw new ArgumentException("MIST needs at least 2 labelled samples", nameof(labelled));
        var device = ComputeDevice.Resolve(context.Device);
        var sw = Stopwatch.StartNew();
        long passes = 0;
        torch.manual_seed(context.Seed);
        var model = current.Clone(device);
        try
        {
            var readout = ReadoutStart.Ensure(model, context.Reference, readoutKind, classes, options.RidgeProjectionDim, readoutSeed, options.ReadoutDistillation, ref passes);
            var frozen = model.FrozenElements;
            var net = model.Model;
            var all = ParameterOps.Named(model);
            var total = all.Sum(p => p.Parameter.numel());
            var scored = all.Where(p => SensitivityScorer.IsScored(net, p.Name, p.Parameter)).ToList();
            using var head = ProjectionHead.For(net, labelled.Images, context.Seed);
            foreach (var (name, p) in scored)
            {
                if (!frozen.ContainsKey(name)) frozen[name] = torch.zeros(p.shape, dtype: ScalarType.Bool).DetachFromDisposeScope();
            }
            using var gen = new Generator((ulong)context.Seed + 31UL);
            var batches = new Batches(labelled, context.Budget.BatchSize, context.Seed);
            var perEpoch = (int)Math.Ceiling(labelled.Count / (double)batches.BatchSize);

            // Epoch 1: MI-Fisher scores (no weight update), frozen elements' gradients zeroed as in the code.
            var scores = scored.ToDictionary(p => p.Name, p => torch.zeros(p.Parameter.shape, device: device).DetachFromDisposeScope());
            var saved = all.ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
            try
            {
                foreach (var (name, p) in all) p.requires_grad = net.GroupOf(name) != ParameterGroup.Classifier;
                foreach (var (_, p) in head.OwnParameters) p.requires_grad = true;
                // Evaluation mode: norm layers' running statistics stay the deployed ones (docs/decisions.md).
                net.SetTraining(false);
                for (var i = 0; i < perEpoch && !options.RandomMask; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var (x, y) = batches.Next(device);
                    net.ZeroGrad();
                    MistObjective.Loss(net, head.Module, x, y, gen, options.Temperature, model.UnitScale).backward();
                    using (torch.no_grad())
                    {
                        foreach (var (name, p) in scored)
                        {
                            if (p.grad is not { } g) continue;
                            var masked = g.masked_fill(frozen[name].to(device), 0);
                            scores[name].add_(masked.square());
                        }
                    }
                    passes += 2L * x.shape[0];
                    context.Progress?.Report(new Tuning.TuningStep(i + 1, perEpoch, "score", double.NaN, 0));
                }

                var masks = new Dictionary<string, Tensor>();
                using var maskGen = new Generator((ulong)context.Seed + 424_242UL);
                long overlap = 0, drawn = 0;
                foreach (var (name, p) in scored)
                {
                    var k = SensitivityScorer.Budget(p.numel(), options.SelectRate);
                    using var s = scores[name].cpu().flatten();
                    // The random draw is made either way, so MI's mask can be compared with the control's.
                    using var draw = torch.rand(new long[] { p.numel() }, generator: maskGen);
                    using var rank = options.RandomMask ? draw.clone() : s.clone();
                    if (!options.RandomMask && k > 0)
                    {
                        var (miVal, miIdx) = s.topk((int)k);
                        var (rVal, rIdx) = draw.topk((int)k);
                        using var inR = torch.zeros(p.numel(), dtype: ScalarType.Bool);
                        inR.index_fill_(0, rIdx, true);
                        using var both = inR.index_select(0, miIdx);
                        using var hits = both.sum();
                        overlap += hits.ToInt64();
                        drawn += k;
                        foreach (var t in new[] { miVal, miIdx, rVal, rIdx }) t.Dispose();
                    }
                    using var frozenFlat = frozen[name].flatten();
                    using var ranked = rank.masked_fill(frozenFlat, -1);
                    var m = torch.zeros(p.numel(), dtype: ScalarType.Bool);
                    if (k > 0)
                    {
                        var (_, idx) = ranked.topk((int)k, largest: true, sorted: false);
                        m.index_fill_(0, idx, true);
                        idx.Dispose();
                    }
                    m = m.logical_and_(frozenFlat.logical_not()).reshape(p.shape);
                    masks[name] = m.DetachFromDisposeScope();
                }

                // Epochs 2..E: masked, dropped, penalised NT-Xent steps; split learning rates, SGD with momentum.
                using var opt = new MaskedSgd(options.DropRate, options.Momentum, options.WeightDecay, gen);
                long selected = 0;
                foreach (var (name, p) in all)
                {
                    switch (net.GroupOf(name))
                    {
                        case ParameterGroup.Backbone when masks.TryGetValue(name, out var m):
                            using (var scale = Penalty(model, name, p.shape))
                                opt.Add(p, m, scale, options.BackboneLr);
                            selected += m.sum().ToInt64();
                            break;
                        case ParameterGroup.Backbone:
                            opt.Add(p, null, null, options.BackboneLr);
                            selected += p.numel();
                            break;
                        case ParameterGroup.Projection:
                            opt.Add(p, null, null, options.ProjectionLr);
                            break;
                    }
                }
                foreach (var (_, p) in head.OwnParameters) opt.Add(p, null, null, options.ProjectionLr);
                var meter = new UpdateMeter(model);
                var steps = (context.Budget.Epochs - 1) * perEpoch;
                for (var i = 0; i < steps; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    using var scope = torch.NewDisposeScope();
                    var (x, y) = batches.Next(device);
                    net.ZeroGrad();
                    foreach (var (_, p) in head.OwnParameters) p.grad?.zero_();
                    MistObjective.Loss(net, head.Module, x, y, gen, options.Temperature, model.UnitScale).backward();
                    meter.Before();
                    opt.Step();
                    meter.After();
                    passes += 2L * x.shape[0];
                    context.Progress?.Report(new Tuning.TuningStep(i + 1, steps, "mi", double.NaN, meter.Last));
                }

                // Permanent freezing: the top-scored element(s) of each weight tensor (the code's quantile 1).
                foreach (var (name, _) in scored)
                {
                    if (options.RandomMask) continue;
                    var s = scores[name];
                    using var max = s.max();
                    using var top = s.eq(max);
                    using var topCpu = top.cpu();
                    frozen[name].logical_or_(topCpu);
                }
                RecordOverlap(model, masks);
                foreach (var m in masks.Values) m.Dispose();

                using (var emb = model.EmbedTensor(labelled.Images))
                using (var flat = emb.flatten(1))
                    readout.Update(flat, labelled.Labels);
                passes += labelled.Count;
                var effect = BackboneEffect(current, model, readout, labelled.Images);
                var folded = readout is PrototypeReadout proto && TryFoldInto(model, proto);
                model.AttachReadout(readout, serves: !folded);

                model.SetInfo(model.Info with
                {
                    Adaptations = current.Info.Adaptations + 1,
                    Notes = $"{Name}: {steps} masked NT-Xent steps, select rate {options.SelectRate}, {readout.Kind} readout",
                });
                return (model, new AdaptationStats
                {
                    TrainSeconds = sw.Elapsed.TotalSeconds,
                    SamplePasses = passes,
                    SelectedFraction = (double)selected / total,
                    UpdatedFractionPerStep = meter.MeanFraction,
                    OptimizerStateBytes = opt.StateBytes + readout.StateBytes,
                    Steps = steps,
                    Detail = $"frozen {frozen.Values.Sum(f => f.sum().ToInt64())} elements; backbone moved {effect.RelativeChange:E2} (relative L2); "
                        + $"the backbone update changes {effect.Changed} of {labelled.Count} readout predictions on the labelled rows"
                        + (options.RandomMask ? "" : $"; MI mask ∩ same-size random mask: {(double)overlap / Math.Max(1, drawn):P1} of the MI mask (chance {options.SelectRate:P0})"),
                });
            }
            finally
            {
                net.ZeroGrad();
                foreach (var (name, p) in all) p.requires_grad = saved[name];
                foreach (var s in scores.Values) s.Dispose();
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }


    /// <summary>
    /// How much the backbone update matters: the relative L2 change of the backbone weights, and on how many of
    /// <paramref name="images"/> the final readout predicts another class from the updated backbone's embeddings than
    /// from the starting backbone's.
    /// </summary>
    private static (double RelativeChange, int Changed) BackboneEffect(ModelBundle start, ModelBundle updated, IReadout readout, Tensor images)
    {
        double diff = 0, norm = 0;
        var before = ParameterOps.Named(start).ToDictionary(p => p.Name, p => p.Parameter);
        using (torch.no_grad())
        {
            foreach (var (name, p) in ParameterOps.Named(updated))
            {
                if (updated.Model.GroupOf(name) != ParameterGroup.Backbone || !before.TryGetValue(name, out var b)) continue;
                using var bc = b.cpu().to(ScalarType.Float64);
                using var pc = p.cpu().to(ScalarType.Float64);
                using var d = pc - bc;
                using var d2 = d.square();
                using var b2 = bc.square();
                using var ds = d2.sum();
                using var bs = b2.sum();
                diff += ds.ToDouble();
                norm += bs.ToDouble();
            }
        }
        using var e0 = start.EmbedTensor(images);
        using var e1 = updated.EmbedTensor(images);
        using var f0 = e0.flatten(1);
        using var f1 = e1.flatten(1);
        using var s0 = readout.Scores(f0);
        using var s1 = readout.Scores(f1);
        using var p0 = s0.argmax(1);
        using var p1 = s1.argmax(1);
        using var ne = p0.ne(p1);
        using var count = ne.sum();
        return (norm > 0 ? Math.Sqrt(diff / norm) : 0, (int)count.ToInt64());
    }

    private Tensor? Penalty(ModelBundle model, string name, long[] shape)
    {
        if (!model.SelectionCounts.TryGetValue(name, out var counts)) return null;
        using var c = counts.to(ScalarType.Float32);
        return torch.pow(options.OverlapPenalty, c).reshape(shape);
    }

    private static void RecordOverlap(ModelBundle model, Dictionary<string, Tensor> masks)
    {
        foreach (var (name, m) in masks)
        {
            var add = m.to(ScalarType.Int16);
            if (model.SelectionCounts.TryGetValue(name, out var old))
            {
                model.SelectionCounts[name] = (old + add).DetachFromDisposeScope();
                old.Dispose();
                add.Dispose();
            }
            else
            {
                model.SelectionCounts[name] = add.DetachFromDisposeScope();
            }
        }
    }

    /// <summary>
    /// Writes the prototype readout into the classifier when it is one linear layer on the embedding (weight
    /// [C, D], optional bias [C]); otherwise (a user's model without an embedding method) leaves it and predictions
    /// go through the readout.
    /// </summary>
    internal static bool TryFoldInto(ModelBundle model, PrototypeReadout proto)
    {
        var classifier = ParameterOps.Named(model).Where(p => model.Model.GroupOf(p.Name) == ParameterGroup.Classifier).ToList();
        var (w, b) = proto.Fold();
        using (w)
        using (b)
        using (torch.no_grad())
        {
            var fits = classifier.Count is 1 or 2 && classifier.All(c =>
                (c.Parameter.dim() == 2 && c.Parameter.shape.SequenceEqual(w.shape)) || (c.Parameter.dim() == 1 && c.Parameter.shape[0] == b.shape[0]))
                && classifier.Count(c => c.Parameter.dim() == 2) == 1;
            if (!fits) return false;
            foreach (var (_, p) in classifier) p.copy_((p.dim() == 2 ? w : b).to(p.device));
            return true;
        }
    }

    /// <summary>
    /// The model's readout when it serves (the arg-max of its scores over all embeddings at once, as the benchmark
    /// has always measured it; <see cref="ModelBundle.Forward"/> serves the same scores batch by batch), otherwise the
    /// classifier (which holds a folded prototype readout).
    /// </summary>
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictServed(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
