using Pipeline.ML.Models;
using TorchSharp;

namespace Pipeline.Inference;

/// <summary>
/// One loaded model version with a reference count. The holder owns one reference while the version
/// is current; every request holds one through a <see cref="ModelLease"/>. The weights are disposed
/// when the last reference goes, so a swapped-out model lives exactly as long as requests use it.
/// </summary>
public sealed class LoadedModel
{
    private readonly ModelBundle bundle;
    private int references = 1;

    internal LoadedModel(string modelId, int version, string sha256, ModelBundle bundle, DateTimeOffset loadedAt)
    {
        ModelId = modelId;
        Version = version;
        Sha256 = sha256;
        this.bundle = bundle;
        LoadedAt = loadedAt;
        Classes = bundle.Info.Classes;
        Architecture = bundle.Info.Architecture;
        InputShape = bundle.Info.InputShape;
        InputLength = bundle.InputLength;
        UnitScale = bundle.UnitScale;
        FeatureNames = bundle.Info.Features?.Select(f => f.Name).ToList();
        CategoricalColumns = (bundle.Info.Features ?? [])
            .Select((f, i) => (Column: i, f.Cardinality))
            .Where(c => c.Cardinality is > 0)
            .Select(c => new CategoricalColumn(c.Column, FeatureNames![c.Column], c.Cardinality!.Value))
            .ToList();
    }

    /// <summary>Tabular columns whose manifest declares a cardinality: their values must be codes 0 … cardinality − 1.</summary>
    public IReadOnlyList<CategoricalColumn> CategoricalColumns { get; }

    /// <summary>Tabular column names from the manifest (null for image models).</summary>
    public IReadOnlyList<string>? FeatureNames { get; }

    /// <summary>One input row's shape (the registry's), without the batch dimension.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>Values per request row.</summary>
    public int InputLength { get; }

    /// <summary>True when values must lie in [0, 1].</summary>
    public bool UnitScale { get; }

    public string ModelId { get; }

    public int Version { get; }

    public string Sha256 { get; }

    public string Architecture { get; }

    public IReadOnlyList<string> Classes { get; }

    public DateTimeOffset LoadedAt { get; }

    /// <summary>True once the last reference is gone and the weights are disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref references) == 0;

    /// <summary>Current references (the holder's plus one per lease); for tests and diagnostics.</summary>
    public int References => Volatile.Read(ref references);

    /// <summary>Runs the model. Only valid while the caller holds a reference (a lease).</summary>
    internal Prediction[] Predict(IReadOnlyList<float[]> rows, int batchSize)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return bundle.Predict(rows, batchSize);
    }

    /// <summary>
    /// Runs the model on <paramref name="rows"/> rows stored back to back in <paramref name="flat"/> (row-major,
    /// <see cref="InputLength"/> values each) and returns the softmax probabilities, rows × classes, row-major, and
    /// with <paramref name="embeddings"/> the embedding rows of the same pass. The values go into the tensor with one
    /// copy: no per-row arrays. Only valid while the caller holds a lease.
    /// </summary>
    internal ForwardOutputs Forward(float[] flat, int rows, int batchSize, bool embeddings)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var shape = new long[InputShape.Count + 1];
        shape[0] = rows;
        for (var i = 0; i < InputShape.Count; i++)
        {
            shape[i + 1] = InputShape[i];
        }

        if (flat.Length != (long)rows * InputLength)
        {
            throw new ArgumentException($"{flat.Length} values are not {rows} rows of {InputLength}", nameof(flat));
        }

        using var inputs = torch.tensor(flat, shape);
        if (!embeddings)
        {
            using var probs = bundle.PredictProbabilities(inputs, batchSize);
            return new ForwardOutputs(probs.contiguous().data<float>().ToArray(), null, 0);
        }

        // One pass gives the predictions and what drift detection compares (ModelBundle.Serve, the reference side's definition).
        var (probabilities, embedded) = bundle.Serve(inputs, batchSize);
        using (probabilities)
        using (embedded)
        {
            var width = rows == 0 ? 0 : (int)embedded.shape[1];
            return new ForwardOutputs(probabilities.contiguous().data<float>().ToArray(), embedded.contiguous().data<float>().ToArray(), width);
        }
    }

    /// <summary>Adds a reference unless the model is already disposed (count reached zero).</summary>
    internal bool TryAddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref references);
            if (current == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Drops a reference; the last one disposes the weights.</summary>
    internal void Release()
    {
        var left = Interlocked.Decrement(ref references);
        if (left == 0)
        {
            bundle.Dispose();
        }
        else if (left < 0)
        {
            throw new InvalidOperationException($"{ModelId} v{Version} released more often than referenced");
        }
    }
}

/// <summary>One forward pass's outputs: probabilities rows × classes and, when asked for, embeddings rows × <paramref name="EmbeddingWidth"/> (row-major).</summary>
public sealed record ForwardOutputs(float[] Probabilities, float[]? Embeddings, int EmbeddingWidth);

/// <summary>A categorical input column with a declared number of categories.</summary>
public sealed record CategoricalColumn(int Index, string Name, int Cardinality);

/// <summary>
/// A request's hold on the model version it started with. Dispose it when the request is done; a
/// swap that happens meanwhile does not affect it.
/// </summary>
public sealed class ModelLease : IDisposable
{
    private LoadedModel? model;

    internal ModelLease(LoadedModel model) => this.model = model;

    public LoadedModel Model => model ?? throw new ObjectDisposedException(nameof(ModelLease));

    public void Dispose() => Interlocked.Exchange(ref model, null)?.Release();
}
