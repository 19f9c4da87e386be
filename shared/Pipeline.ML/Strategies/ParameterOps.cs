using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>Arithmetic and bookkeeping over a model's named parameters (no layer classes involved).</summary>
public static class ParameterOps
{
    /// <summary>Named parameters in registration order.</summary>
    public static List<(string Name, Parameter Parameter)> Named(ModelBundle model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Model.NamedParameters().ToList();
    }

    /// <summary>True for parameters that affect predictions (everything but a built-in model's MI projection head).</summary>
    public static bool IsPredictive(ModelBundle model, string name) => model.Model.GroupOf(name) != ParameterGroup.Projection;

    /// <summary>θ_a − θ_b per parameter (CPU float32 copies; caller disposes).</summary>
    public static Dictionary<string, Tensor> Difference(ModelBundle a, ModelBundle b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var noGrad = torch.no_grad();
        var bp = b.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        return a.Model.NamedParameters().ToDictionary(p => p.Name, p => (p.Parameter.cpu() - bp[p.Name].cpu()).DetachFromDisposeScope());
    }

    /// <summary>
    /// TIES-merging (Yadav et al. 2023) of task vectors: per vector keep the top <paramref name="keepFraction"/>
    /// entries by magnitude (trim), elect per element the sign with the larger total mass (sign of the sum of
    /// trimmed values), average only the kept entries that agree with the elected sign (disjoint mean), and scale
    /// by <paramref name="lambda"/>. Trimming is over all elements of a vector together, as in the paper.
    /// </summary>
    public static Dictionary<string, Tensor> Ties(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> taskVectors, double keepFraction, double lambda)
    {
        ArgumentNullException.ThrowIfNull(taskVectors);
        if (taskVectors.Count == 0) throw new ArgumentException("no task vectors", nameof(taskVectors));
        if (keepFraction is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(keepFraction));
        var names = taskVectors[0].Keys.ToList();
        using var scope = torch.NewDisposeScope();
        var trimmed = new List<Dictionary<string, Tensor>>();
        foreach (var tv in taskVectors)
        {
            var flat = torch.cat(names.Select(n => tv[n].flatten().abs()).ToList(), 0);
            var k = Math.Max(1, (long)Math.Ceiling(flat.numel() * keepFraction));
            var threshold = flat.topk((int)k, largest: true, sorted: true).values[k - 1].ToDouble();
            trimmed.Add(names.ToDictionary(n => n, n => tv[n].where(tv[n].abs().ge(threshold), 0f)));
        }
        var result = new Dictionary<string, Tensor>();
        foreach (var n in names)
        {
            var stack = torch.stack(trimmed.Select(t => t[n]).ToList(), 0);
            var elected = stack.sum(dim: 0).sign();
            var agree = stack.sign().eq(elected.unsqueeze(0)).logical_and(stack.ne(0));
            var count = agree.sum(dim: 0).to(ScalarType.Float32);
            var sum = stack.where(agree, 0f).sum(dim: 0);
            var mean = sum / count.clamp_min(1);
            result[n] = (mean * lambda).MoveToOuterDisposeScope();
        }
        return result;
    }

    /// <summary>WiSE-FT interpolation (1 − α)·θ_a + α·θ_b written into <paramref name="target"/>'s parameters.</summary>
    public static void Interpolate(ModelBundle target, ModelBundle a, ModelBundle b, double alpha)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var noGrad = torch.no_grad();
        var ap = a.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var bp = b.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var (name, p) in target.Model.NamedParameters())
        {
            using var mixed = ap[name].to(p.device) * (1 - alpha) + bp[name].to(p.device) * alpha;
            p.copy_(mixed);
        }
    }

    /// <summary>Adds <paramref name="delta"/> to the parameters of <paramref name="target"/> (in place).</summary>
    public static void Add(ModelBundle target, IReadOnlyDictionary<string, Tensor> delta)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(delta);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in target.Model.NamedParameters())
        {
            if (delta.TryGetValue(name, out var d)) p.add_(d.to(p.device));
        }
    }

    /// <summary>
    /// Arg-max class of the model's readout when it serves (its scores over all embeddings at once; <see cref="ModelBundle.Forward"/>
    /// serves the same scores batch by batch), otherwise of its classifier.
    /// </summary>
    public static long[] PredictServed(ModelBundle model, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.ServesReadout || model.Readout is not { } readout) return PredictWithClassifier(model, images);
        using var emb = model.EmbedTensor(images);
        using var flat = emb.flatten(1);
        using var scores = readout.Scores(flat);
        using var arg = scores.argmax(1);
        return arg.data<long>().ToArray();
    }

    /// <summary>Arg-max class of the model's own classifier, in batches.</summary>
    public static long[] PredictWithClassifier(ModelBundle model, Tensor images)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var probs = model.PredictProbabilities(images);
        using var arg = probs.argmax(1);
        return arg.data<long>().ToArray();
    }
}

/// <summary>Counts the elements of predictive parameters that change in each optimizer step.</summary>
internal sealed class UpdateMeter
{
    private readonly List<Parameter> tracked;
    private readonly long total;
    private List<Tensor>? before;
    private double sum;
    private int steps;

    public UpdateMeter(ModelBundle model)
    {
        var all = ParameterOps.Named(model);
        total = all.Sum(p => p.Parameter.numel());
        tracked = all.Where(p => ParameterOps.IsPredictive(model, p.Name)).Select(p => p.Parameter).ToList();
    }

    public void Before()
    {
        using var noGrad = torch.no_grad();
        before = tracked.Select(p => p.detach().clone().DetachFromDisposeScope()).ToList();
    }

    public void After()
    {
        if (before is null) return;
        long changed = 0;
        using (torch.no_grad())
        {
            for (var i = 0; i < tracked.Count; i++)
            {
                using var ne = tracked[i].ne(before[i]);
                changed += ne.sum().ToInt64();
                before[i].Dispose();
            }
        }
        before = null;
        Last = (double)changed / total;
        sum += Last;
        steps++;
    }

    /// <summary>Fraction of all parameters the last measured step changed (what a progress report shows).</summary>
    public double Last { get; private set; }

    public double MeanFraction => steps == 0 ? 0 : sum / steps;

    public int Steps => steps;
}

/// <summary>Seeded mini-batches over a dataset, reshuffled each pass.</summary>
internal sealed class Batches
{
    private readonly ImageDataset data;
    private readonly int batch;
    private readonly Random rng;
    private long[] order;
    private int cursor;

    public Batches(ImageDataset data, int batchSize, int seed)
    {
        this.data = data;
        batch = Math.Max(1, Math.Min(batchSize, data.Count));
        rng = new Random(seed);
        order = ImageDataset.Permutation(data.Count, rng.Next());
    }

    /// <summary>Next batch on <paramref name="device"/>; the tensors belong to the current dispose scope.</summary>
    public (Tensor X, Tensor Y) Next(Device device)
    {
        if (cursor + batch > order.Length)
        {
            order = ImageDataset.Permutation(data.Count, rng.Next());
            cursor = 0;
        }
        var idx = torch.tensor(order.AsSpan(cursor, batch).ToArray(), ScalarType.Int64);
        cursor += batch;
        return (data.Images.index_select(0, idx).to(device), data.Labels.index_select(0, idx).to(device));
    }

    public int BatchSize => batch;
}
