using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Sensitivity;

/// <summary>Options of MI-Fisher sensitivity scoring.</summary>
public sealed record ScoringOptions
{
    /// <summary>Fraction of each backbone weight tensor to select (default 0.02; keeps the whole mask under 5%).</summary>
    public double SelectRate { get; init; } = 0.02;

    /// <summary>Batch size of the scoring pass.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>InfoNCE temperature.</summary>
    public double Temperature { get; init; } = 0.07;

    /// <summary>Seed of the augmentations (and of random masks).</summary>
    public int Seed { get; init; }

    /// <summary>"auto", "cpu" or "cuda".</summary>
    public string Device { get; init; } = "auto";
}

/// <summary>Scores parameter sensitivity to the MI objective and selects masks.</summary>
/// <remarks>
/// Policy (MIST, arXiv 2505.19943): backbone weight tensors (rank ≥ 2) are sparsified to their top
/// <c>SelectRate</c> elements by accumulated squared gradient of the supervised-contrastive InfoNCE loss;
/// backbone biases, the projection head and the classifier head stay trainable in full (the paper keeps
/// heads, biases and norms trainable). They are part of the mask, so they count in <c>selected_fraction</c>.
/// Running statistics of normalisation layers are buffers, not parameters: scoring runs in evaluation mode and never changes them.
/// </remarks>
public static class SensitivityScorer
{
    /// <summary>
    /// One pass over <paramref name="adaptation"/>: MI loss on two augmented views, accumulate grad² per element,
    /// then select the top <c>SelectRate</c> per backbone weight tensor. The model's weights are not changed.
    /// </summary>
    public static SensitivityMask Score(ModelBundle model, ImageDataset adaptation, ScoringOptions? options = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(adaptation);
        var o = options ?? new ScoringOptions();
        var scores = ComputeScores(model, adaptation, o, progress, cancellationToken);
        try
        {
            return SelectTop(model, scores, o.SelectRate, o.Seed);
        }
        finally
        {
            foreach (var s in scores.Values) s.Dispose();
        }
    }

    /// <summary>Accumulated squared gradients of the MI loss per backbone weight tensor (CPU float32).</summary>
    public static Dictionary<string, Tensor> ComputeScores(ModelBundle model, ImageDataset adaptation, ScoringOptions options,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(adaptation);
        ArgumentNullException.ThrowIfNull(options);
        var device = model.Device;
        var net = model.Model;
        var all = net.NamedParameters();
        var scored = all.Where(p => IsScored(net, p.Name, p.Parameter)).ToList();
        var acc = scored.ToDictionary(p => p.Name, p => torch.zeros_like(p.Parameter));
        var saved = all.ToDictionary(p => p.Name, p => p.Parameter.requires_grad);
        using var head = ProjectionHead.For(net, adaptation.Images, options.Seed);
        using var gen = new Generator((ulong)options.Seed + 1_000_003UL);
        // Evaluation mode: batch-norm running statistics are read, never updated, and dropout is off, so scoring
        // leaves every buffer as it was and the gradients describe the network that serves.
        net.SetTraining(false);
        try
        {
            foreach (var (name, p) in all) p.requires_grad = net.GroupOf(name) != ParameterGroup.Classifier;
            var n = adaptation.Count;
            for (var s = 0; s < n; s += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var len = Math.Min(options.BatchSize, n - s);
                if (len < 2) break;
                net.ZeroGrad();
                var x = adaptation.Images.narrow(0, s, len);
                var y = adaptation.Labels.narrow(0, s, len);
                var loss = MiObjective.Loss(net, head.Module, x.to(device), y.to(device), gen, options.Temperature, model.UnitScale);
                loss.backward();
                using (torch.no_grad())
                {
                    foreach (var (name, p) in scored)
                    {
                        if (p.grad is { } g) acc[name].add_(g.square());
                    }
                }
                progress?.Report(Math.Min(n, s + len));
            }
        }
        finally
        {
            net.ZeroGrad();
            foreach (var (name, p) in all) p.requires_grad = saved[name];
        }
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, t) in acc)
        {
            result[name] = t.cpu().DetachFromDisposeScope();
            if (!ReferenceEquals(result[name], t)) t.Dispose();
        }
        return result;
    }

    /// <summary>Top-<paramref name="selectRate"/> per scored tensor; biases and heads kept trainable in full.</summary>
    public static SensitivityMask SelectTop(ModelBundle model, IReadOnlyDictionary<string, Tensor> scores, double selectRate, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scores);
        return Build(model, "mi", selectRate, seed, (name, p) =>
        {
            var s = scores[name].flatten();
            var k = Budget(p.numel(), selectRate);
            var mask = torch.zeros(p.numel(), dtype: ScalarType.Bool);
            if (k > 0)
            {
                var (_, idx) = s.topk((int)k, largest: true, sorted: false);
                mask.index_fill_(0, idx, true);
            }
            return (mask.reshape(p.shape), "top-k");
        });
    }

    /// <summary>The same budget and structure as <see cref="Score"/> but elements chosen uniformly at random.</summary>
    public static SensitivityMask RandomMask(ModelBundle model, double selectRate, int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var gen = new Generator((ulong)seed + 424_242UL);
        return Build(model, "random", selectRate, seed, (name, p) =>
        {
            var k = Budget(p.numel(), selectRate);
            var perm = torch.randperm(p.numel(), generator: gen);
            var mask = torch.zeros(p.numel(), dtype: ScalarType.Bool);
            if (k > 0) mask.index_fill_(0, perm.narrow(0, 0, k), true);
            return (mask.reshape(p.shape), "random");
        });
    }

    /// <summary>Mask for the baselines: "full" (every element) or "head" (classifier head only).</summary>
    public static SensitivityMask DenseMask(ModelBundle model, string strategy)
    {
        ArgumentNullException.ThrowIfNull(model);
        var policies = new Dictionary<string, string>();
        var masks = new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.Model.NamedParameters())
        {
            var on = strategy switch
            {
                "full" => true,
                "head" => model.Model.GroupOf(name) == ParameterGroup.Classifier,
                _ => throw new ArgumentException($"unknown dense strategy '{strategy}'", nameof(strategy)),
            };
            masks[name] = on ? torch.ones(p.shape, dtype: ScalarType.Bool) : torch.zeros(p.shape, dtype: ScalarType.Bool);
            policies[name] = on ? "all" : "none";
        }
        return new SensitivityMask(strategy, model.Info.Architecture, 1.0, 0, masks, policies, model.Model.GroupOf);
    }

    /// <summary>Number of elements kept from a tensor of <paramref name="numel"/> elements.</summary>
    public static long Budget(long numel, double selectRate) => Math.Min(numel, (long)Math.Floor(numel * selectRate));

    /// <summary>
    /// True for parameters that are sparsified by score: backbone weights of rank ≥ 2 (linear and convolution
    /// kernels). Biases and normalisation scales/shifts (rank 1) stay trainable in full, as in MIST.
    /// </summary>
    public static bool IsScored(ClassifierNetwork network, string name, Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(parameter);
        return network.GroupOf(name) == ParameterGroup.Backbone && parameter.dim() >= 2;
    }

    private static SensitivityMask Build(ModelBundle model, string strategy, double selectRate, int seed,
        Func<string, Tensor, (Tensor Mask, string Policy)> selectScored)
    {
        if (selectRate is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(selectRate));
        var masks = new Dictionary<string, Tensor>();
        var policies = new Dictionary<string, string>();
        foreach (var (name, p) in model.Model.NamedParameters())
        {
            if (IsScored(model.Model, name, p))
            {
                var (m, policy) = selectScored(name, p);
                masks[name] = m;
                policies[name] = policy;
            }
            else
            {
                masks[name] = torch.ones(p.shape, dtype: ScalarType.Bool);
                policies[name] = "all";
            }
        }
        return new SensitivityMask(strategy, model.Info.Architecture, selectRate, seed, masks, policies, model.Model.GroupOf);
    }
}
