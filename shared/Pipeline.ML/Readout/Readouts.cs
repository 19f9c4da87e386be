using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Readout;

/// <summary>
/// A classifier read from backbone embeddings whose statistics accumulate over every adaptation (a replay-free
/// memory of the domains seen so far). Statistics live on the CPU in float64.
/// </summary>
public interface IReadout : IDisposable
{
    /// <summary>"prototype" or "ridge".</summary>
    string Kind { get; }

    /// <summary>Adds embeddings [N, D] with labels [N] to the statistics and refits.</summary>
    void Update(Tensor embeddings, Tensor labels);

    /// <summary>Class scores [N, C] for embeddings [N, D] (CPU float32; caller disposes).</summary>
    Tensor Scores(Tensor embeddings);

    /// <summary>Bytes of accumulated statistics.</summary>
    long StateBytes { get; }

    /// <summary>A deep copy (statistics and fitted weights).</summary>
    IReadout Clone();

    /// <summary>What a model file keeps of the readout: its scalars and its named CPU tensors (owned by the readout).</summary>
    ReadoutState State();
}

/// <summary>
/// Class-mean prototypes compared by cosine similarity (SimpleCIL, as MIST's SimpleCIL+MIST code uses it; for a
/// domain-incremental sequence the code sums each class's embeddings over all tasks, so the mean here is over
/// every sample seen). Because the arg-max of cos(e, p_c) equals the arg-max of e · p_c/‖p_c‖, the readout folds
/// exactly (same predicted class) into a linear classifier: weight rows p_c/‖p_c‖ · scale, bias 0.
/// </summary>
public sealed class PrototypeReadout : IReadout
{
    private readonly Tensor sums;     // [C, D] float64
    private readonly Tensor counts;   // [C] float64
    private double normSum;
    private long normCount;

    /// <summary>Empty statistics for <paramref name="classes"/> classes of <paramref name="dim"/>-dimensional embeddings.</summary>
    public PrototypeReadout(int classes, int dim)
    {
        sums = torch.zeros(new long[] { classes, dim }, dtype: ScalarType.Float64);
        counts = torch.zeros(new long[] { classes }, dtype: ScalarType.Float64);
    }

    private PrototypeReadout(Tensor sums, Tensor counts, double normSum, long normCount)
    {
        this.sums = sums;
        this.counts = counts;
        this.normSum = normSum;
        this.normCount = normCount;
    }

    /// <summary>Statistics read back from a model file (takes ownership of the tensors; shapes checked).</summary>
    internal static PrototypeReadout Restore(ReadoutState state)
    {
        var sums = state.Get("sums", ScalarType.Float64, 2);
        var counts = state.Get("counts", ScalarType.Float64, 1);
        if (counts.shape[0] != sums.shape[0]) throw new InvalidDataException($"prototype readout: {counts.shape[0]} counts for {sums.shape[0]} classes");
        return new PrototypeReadout(sums.clone(), counts.clone(), state.Info.NormSum ?? 0, state.Info.NormCount ?? 0);
    }

    /// <inheritdoc />
    public IReadout Clone() => new PrototypeReadout(sums.clone(), counts.clone(), normSum, normCount);

    /// <inheritdoc />
    public ReadoutState State() => new(
        new ReadoutInfo { Kind = Kind, NormSum = normSum, NormCount = normCount },
        [("sums", sums), ("counts", counts)]);

    /// <inheritdoc />
    public string Kind => "prototype";

    /// <inheritdoc />
    public long StateBytes => (sums.numel() + counts.numel()) * 8;

    /// <summary>Samples seen per class.</summary>
    public double[] Counts => counts.data<double>().ToArray();

    /// <inheritdoc />
    public void Update(Tensor embeddings, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = torch.NewDisposeScope();
        var e = embeddings.cpu().to(ScalarType.Float64);
        var y = labels.cpu().to(ScalarType.Int64);
        sums.index_add_(0, y, e, 1.0);
        counts.index_add_(0, y, torch.ones(y.shape[0], dtype: ScalarType.Float64), 1.0);
        normSum += e.square().sum(1).sqrt().sum().ToDouble();
        normCount += e.shape[0];
    }

    /// <summary>Class means [C, D] (float64; classes never seen are zero).</summary>
    public Tensor Prototypes() => sums / counts.clamp_min(1).unsqueeze(1);

    /// <inheritdoc />
    public Tensor Scores(Tensor embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        using var scope = torch.NewDisposeScope();
        var p = torch.nn.functional.normalize(Prototypes(), p: 2, dim: 1);
        var e = torch.nn.functional.normalize(embeddings.cpu().to(ScalarType.Float64), p: 2, dim: 1);
        return e.matmul(p.t()).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Linear weights [C, D] and bias [C] that predict the same class as <see cref="Scores"/>. The scale makes the
    /// logits of an average-norm embedding equal to its cosines / 0.1, a conventional cosine-classifier temperature.
    /// </summary>
    public (Tensor Weight, Tensor Bias) Fold()
    {
        using var scope = torch.NewDisposeScope();
        var meanNorm = normCount == 0 ? 1.0 : Math.Max(1e-6, normSum / normCount);
        var w = torch.nn.functional.normalize(Prototypes(), p: 2, dim: 1) * (10.0 / meanNorm);
        var b = torch.zeros(sums.shape[0], dtype: ScalarType.Float32);
        return (w.to(ScalarType.Float32).MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        sums.Dispose();
        counts.Dispose();
    }
}

/// <summary>
/// RanPAC's readout as MIST's RanPAC+MIST code uses it: a fixed random projection H = ReLU(E · W_rand) of the
/// embedding, Gram G = Σ HᵀH and Q = Σ HᵀY accumulated over every adaptation, and ridge weights
/// W = (G + λI)⁻¹ Q with λ chosen from 10^-8 … 10^8 on an 80/20 split of the newest data (as the code does).
/// </summary>
public sealed class RidgeReadout : IReadout
{
    private readonly Tensor wRand;   // [D, M] float64
    private readonly Tensor g;       // [M, M]
    private readonly Tensor q;       // [M, C]
    private Tensor? weights;         // [M, C]
    private readonly int classes;

    /// <summary>Statistics for a projection to <paramref name="projectionDim"/> features drawn from <paramref name="seed"/>.</summary>
    public RidgeReadout(int classes, int dim, int projectionDim, int seed)
    {
        if (projectionDim < 1) throw new ArgumentOutOfRangeException(nameof(projectionDim));
        this.classes = classes;
        using var gen = new Generator((ulong)seed + 77_777UL);
        wRand = torch.randn(new long[] { dim, projectionDim }, generator: gen).to(ScalarType.Float64);
        g = torch.zeros(new long[] { projectionDim, projectionDim }, dtype: ScalarType.Float64);
        q = torch.zeros(new long[] { projectionDim, classes }, dtype: ScalarType.Float64);
    }

    private RidgeReadout(Tensor wRand, Tensor g, Tensor q, Tensor? weights, double lambda)
    {
        this.wRand = wRand;
        this.g = g;
        this.q = q;
        this.weights = weights;
        classes = (int)q.shape[1];
        Lambda = lambda;
    }

    /// <summary>Statistics read back from a model file (copies the tensors; shapes checked).</summary>
    internal static RidgeReadout Restore(ReadoutState state)
    {
        var w = state.Get("w_rand", ScalarType.Float64, 2);
        var g = state.Get("g", ScalarType.Float64, 2);
        var q = state.Get("q", ScalarType.Float64, 2);
        var weights = state.Has("weights") ? state.Get("weights", ScalarType.Float64, 2) : null;
        var m = w.shape[1];
        if (g.shape[0] != m || g.shape[1] != m || q.shape[0] != m || (weights is not null && !weights.shape.SequenceEqual(q.shape)))
            throw new InvalidDataException($"ridge readout: inconsistent shapes (projection {m}, G [{string.Join(", ", g.shape)}], Q [{string.Join(", ", q.shape)}])");
        return new RidgeReadout(w.clone(), g.clone(), q.clone(), weights?.clone(), state.Info.Lambda ?? double.NaN);
    }

    /// <inheritdoc />
    public IReadout Clone() => new RidgeReadout(wRand.clone(), g.clone(), q.clone(), weights?.clone(), Lambda);

    /// <inheritdoc />
    public ReadoutState State()
    {
        var tensors = new List<(string, Tensor)> { ("w_rand", wRand), ("g", g), ("q", q) };
        if (weights is not null) tensors.Add(("weights", weights));
        return new ReadoutState(new ReadoutInfo { Kind = Kind, Lambda = double.IsFinite(Lambda) ? Lambda : null }, tensors);
    }

    /// <inheritdoc />
    public string Kind => "ridge";

    /// <summary>λ chosen at the last update.</summary>
    public double Lambda { get; private set; } = double.NaN;

    /// <inheritdoc />
    public long StateBytes => (wRand.numel() + g.numel() + q.numel() + (weights?.numel() ?? 0)) * 8;

    private Tensor Project(Tensor embeddings) => torch.nn.functional.relu(embeddings.cpu().to(ScalarType.Float64).matmul(wRand));

    /// <inheritdoc />
    public void Update(Tensor embeddings, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        using var y = torch.nn.functional.one_hot(labels.cpu().to(ScalarType.Int64), classes);
        UpdateTargets(embeddings, y);
    }

    /// <summary>
    /// Adds embeddings [N, D] with regression targets [N, C] (one-hot labels, or soft targets such as a mix of the
    /// labels and a model's probabilities) to the statistics and refits.
    /// </summary>
    public void UpdateTargets(Tensor embeddings, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.dim() != 2 || targets.shape[1] != classes || targets.shape[0] != embeddings.shape[0])
            throw new ArgumentException($"targets must be [{embeddings.shape[0]}, {classes}], got [{string.Join(", ", targets.shape)}]", nameof(targets));
        using var scope = torch.NewDisposeScope();
        var h = Project(embeddings);
        var y = targets.cpu().to(ScalarType.Float64);
        g.add_(h.t().matmul(h));
        q.add_(h.t().matmul(y));
        Lambda = ChooseLambda(h, y);
        var eye = torch.eye(g.shape[0], dtype: ScalarType.Float64);
        var w = torch.linalg.solve(g + eye * Lambda, q);
        weights?.Dispose();
        weights = w.MoveToOuterDisposeScope();
    }

    private static double ChooseLambda(Tensor h, Tensor y)
    {
        var n = h.shape[0];
        var nFit = (long)(n * 0.8);
        if (nFit < 1 || nFit >= n) return 1.0;
        var hf = h.narrow(0, 0, nFit);
        var hv = h.narrow(0, nFit, n - nFit);
        var yv = y.narrow(0, nFit, n - nFit);
        var gv = hf.t().matmul(hf);
        var qv = hf.t().matmul(y.narrow(0, 0, nFit));
        var eye = torch.eye(gv.shape[0], dtype: ScalarType.Float64);
        var best = double.PositiveInfinity;
        var bestLambda = 1.0;
        for (var e = -8; e <= 8; e++)
        {
            var lambda = Math.Pow(10, e);
            var w = torch.linalg.solve(gv + eye * lambda, qv);
            var loss = (hv.matmul(w) - yv).square().mean().ToDouble();
            if (loss < best)
            {
                best = loss;
                bestLambda = lambda;
            }
        }
        return bestLambda;
    }

    /// <inheritdoc />
    public Tensor Scores(Tensor embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (weights is null) throw new InvalidOperationException("the ridge readout has seen no data");
        using var scope = torch.NewDisposeScope();
        return Project(embeddings).matmul(weights).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        wRand.Dispose();
        g.Dispose();
        q.Dispose();
        weights?.Dispose();
    }
}
