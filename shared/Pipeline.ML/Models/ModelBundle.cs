using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>Metadata stored with a model file.</summary>
public sealed record ModelInfo
{
    /// <summary>Architecture name ("cnn-small", "mlp").</summary>
    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    /// <summary>Input shape of one sample: [1, 28, 28].</summary>
    [JsonPropertyName("input_shape")]
    public int[] InputShape { get; init; } = [1, Features.Side, Features.Side];

    /// <summary>Class names, index = label.</summary>
    [JsonPropertyName("classes")]
    public string[] Classes { get; init; } = FashionMnist.ClassNames.ToArray();

    /// <summary>Total number of parameter elements.</summary>
    [JsonPropertyName("params_total")]
    public long ParamsTotal { get; init; }

    /// <summary>How many sparse adaptations this model has been through.</summary>
    [JsonPropertyName("adaptations")]
    public int Adaptations { get; init; }

    /// <summary>Free-form description (e.g. how it was trained).</summary>
    [JsonPropertyName("notes")]
    public string? Notes { get; init; }
}

/// <summary>One prediction: the arg-max class and the softmax probabilities.</summary>
public sealed record Prediction(int Class, float[] Probabilities);

/// <summary>
/// A model with its metadata and its adaptation history (per-element counts of how many earlier sparse
/// adaptations selected each parameter element; used for the 0.9^k overlap penalty). Save/Load keep all three.
/// </summary>
public sealed class ModelBundle : IDisposable
{
    private const string Magic = "PIPELINE-ML-MODEL-1";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Wraps an existing model (takes ownership).</summary>
    public ModelBundle(AdaptiveModel model, ModelInfo? info = null, Dictionary<string, Tensor>? selectionCounts = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Info = (info ?? new ModelInfo { Architecture = model.Architecture }) with
        {
            Architecture = model.Architecture,
            ParamsTotal = model.ParameterCount(),
        };
        SelectionCounts = selectionCounts ?? [];
    }

    /// <summary>The network.</summary>
    public AdaptiveModel Model { get; }

    /// <summary>Metadata.</summary>
    public ModelInfo Info { get; private set; }

    /// <summary>Per-parameter int16 counts of earlier selections (absent = never selected). On the CPU.</summary>
    public Dictionary<string, Tensor> SelectionCounts { get; }

    /// <summary>Device the model currently lives on.</summary>
    public Device Device => Model.parameters().First().device;

    /// <summary>Creates a freshly initialised model.</summary>
    public static ModelBundle Create(string architecture, int seed, string? notes = null)
    {
        var model = ModelFactory.Create(architecture, seed);
        return new ModelBundle(model, new ModelInfo { Architecture = architecture, Notes = notes });
    }

    /// <summary>Moves the model to a device (in place) and returns this bundle.</summary>
    public ModelBundle To(Device device)
    {
        Model.to(device);
        return this;
    }

    /// <summary>Replaces the metadata (architecture and parameter count are always recomputed).</summary>
    public void SetInfo(ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        Info = info with { Architecture = Model.Architecture, ParamsTotal = Model.ParameterCount() };
    }

    /// <summary>A deep copy on the given device (default: the same device).</summary>
    public ModelBundle Clone(Device? device = null)
    {
        var target = device ?? Device;
        var copy = ModelFactory.Create(Model.Architecture, null, Info.Classes.Length);
        copy.to(target);
        using (torch.no_grad())
        {
            var src = Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in copy.named_parameters()) p.copy_(src[name]);
        }
        var counts = SelectionCounts.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        return new ModelBundle(copy, Info, counts);
    }

    /// <summary>Saves weights, metadata and adaptation history to <paramref name="path"/> (atomic replace).</summary>
    public void Save(string path)
    {
        var tensors = Model.named_parameters().Select(p => ("param:" + p.name, (Tensor)p.parameter))
            .Concat(SelectionCounts.Select(kv => ("count:" + kv.Key, kv.Value)));
        TensorFile.Write(path, Magic, JsonSerializer.Serialize(Info, Json), tensors);
    }

    /// <summary>Loads a model saved with <see cref="Save"/> onto the device (default: auto).</summary>
    public static ModelBundle Load(string path, Device? device = null)
    {
        var (meta, tensors) = TensorFile.Read(path, Magic);
        var info = JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
        var model = ModelFactory.Create(info.Architecture, null, info.Classes.Length);
        var counts = new Dictionary<string, Tensor>();
        try
        {
            var byName = tensors.Where(t => t.Name.StartsWith("param:", StringComparison.Ordinal))
                .ToDictionary(t => t.Name[6..], t => t.Tensor);
            using (torch.no_grad())
            {
                foreach (var (name, p) in model.named_parameters())
                {
                    if (!byName.TryGetValue(name, out var t)) throw new InvalidDataException($"{path}: missing parameter {name}");
                    if (!t.shape.SequenceEqual(p.shape)) throw new InvalidDataException($"{path}: shape mismatch for {name}");
                    p.copy_(t);
                }
            }
            foreach (var (name, t) in tensors.Where(t => t.Name.StartsWith("count:", StringComparison.Ordinal)))
                counts[name[6..]] = t.clone();
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
        model.to(device ?? ComputeDevice.Resolve());
        var bundle = new ModelBundle(model, info, counts);
        if (bundle.Info.ParamsTotal != info.ParamsTotal && info.ParamsTotal != 0)
            throw new InvalidDataException($"{path}: params_total {info.ParamsTotal} does not match the architecture ({bundle.Info.ParamsTotal})");
        return bundle;
    }

    /// <summary>Reads only the metadata of a model file.</summary>
    public static ModelInfo ReadInfo(string path)
    {
        var (meta, tensors) = TensorFile.Read(path, Magic);
        foreach (var (_, t) in tensors) t.Dispose();
        return JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
    }

    /// <summary>Class predictions and probabilities for feature vectors (784 floats each, in [0, 1]).</summary>
    public Prediction[] Predict(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        var result = new List<Prediction>(features.Count);
        using var images = Features.ToImageTensor(features);
        foreach (var probs in ProbabilityBatches(images, batchSize))
        {
            var k = probs.Length / Info.Classes.Length;
            var c = Info.Classes.Length;
            for (var i = 0; i < k; i++)
            {
                var row = probs.AsSpan(i * c, c).ToArray();
                var best = 0;
                for (var j = 1; j < c; j++) if (row[j] > row[best]) best = j;
                result.Add(new Prediction(best, row));
            }
        }
        return result.ToArray();
    }

    /// <summary>Softmax probabilities [N, classes] (CPU tensor, caller disposes) for images [N, 1, 28, 28].</summary>
    public Tensor PredictProbabilities(Tensor images, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(images);
        var device = Device;
        Model.eval();
        using var noGrad = torch.no_grad();
        var parts = new List<Tensor>();
        for (long s = 0; s < images.shape[0]; s += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var n = Math.Min(batchSize, images.shape[0] - s);
            var x = images.narrow(0, s, n).to(device);
            parts.Add(torch.nn.functional.softmax(Model.forward(x), 1).cpu().MoveToOuterDisposeScope());
        }
        if (parts.Count == 0) return torch.zeros(0, Info.Classes.Length);
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>Backbone embeddings [N, D] for feature vectors (784 floats each); for MMD drift detection.</summary>
    public float[][] Embed(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var images = Features.ToImageTensor(features);
        using var emb = EmbedTensor(images, batchSize);
        var d = (int)emb.shape[1];
        var flat = emb.data<float>().ToArray();
        var result = new float[features.Count][];
        for (var i = 0; i < result.Length; i++) result[i] = flat.AsSpan(i * d, d).ToArray();
        return result;
    }

    /// <summary>Backbone embeddings [N, D] (CPU tensor, caller disposes) for images [N, 1, 28, 28].</summary>
    public Tensor EmbedTensor(Tensor images, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(images);
        var device = Device;
        Model.eval();
        using var noGrad = torch.no_grad();
        var parts = new List<Tensor>();
        for (long s = 0; s < images.shape[0]; s += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var n = Math.Min(batchSize, images.shape[0] - s);
            parts.Add(Model.Embed(images.narrow(0, s, n).to(device)).cpu().MoveToOuterDisposeScope());
        }
        if (parts.Count == 0) return torch.zeros(0, Model.EmbeddingDim);
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    private IEnumerable<float[]> ProbabilityBatches(Tensor images, int batchSize)
    {
        using var probs = PredictProbabilities(images, batchSize);
        yield return probs.contiguous().data<float>().ToArray();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Model.Dispose();
        foreach (var t in SelectionCounts.Values) t.Dispose();
    }
}
