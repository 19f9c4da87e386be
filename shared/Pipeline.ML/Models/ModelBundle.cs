using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>Metadata stored with a model file.</summary>
public sealed record ModelInfo
{
    /// <summary>Architecture name ("cnn-small", "mlp", "torchscript").</summary>
    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    /// <summary>Input shape of one sample, e.g. [1, 28, 28] or [12].</summary>
    [JsonPropertyName("input_shape")]
    public int[] InputShape { get; init; } = [];

    /// <summary>Class names, index = label.</summary>
    [JsonPropertyName("classes")]
    public string[] Classes { get; init; } = [];

    /// <summary>Total number of parameter elements.</summary>
    [JsonPropertyName("params_total")]
    public long ParamsTotal { get; init; }

    /// <summary>How many sparse adaptations this model has been through.</summary>
    [JsonPropertyName("adaptations")]
    public int Adaptations { get; init; }

    /// <summary>Free-form description (e.g. how it was trained).</summary>
    [JsonPropertyName("notes")]
    public string? Notes { get; init; }

    /// <summary>"unit" (inputs in [0, 1]) or "raw"; see <see cref="ModelManifest"/>.</summary>
    [JsonPropertyName("input_scale")]
    public string InputScale { get; init; } = ModelManifest.UnitScale;

    /// <summary>Parameters named <c>{prefix}.…</c> form the final layer.</summary>
    [JsonPropertyName("classifier_prefix")]
    public string ClassifierPrefix { get; init; } = "classifier";

    /// <summary>The TorchScript method returning penultimate features (null: none, or a built-in model).</summary>
    [JsonPropertyName("embedding_method")]
    public string? EmbeddingMethod { get; init; }

    /// <summary>Tabular columns (null for image models).</summary>
    [JsonPropertyName("features")]
    public FeatureSpec[]? Features { get; init; }

    /// <summary>The manifest's model name (user models).</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>The metadata of a user's model described by <paramref name="manifest"/>.</summary>
    public static ModelInfo FromManifest(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new ModelInfo
        {
            Architecture = TorchScriptNetwork.ArchitectureName,
            Name = manifest.Name,
            InputShape = manifest.InputShape ?? [],
            Classes = manifest.Classes ?? [],
            InputScale = manifest.Scale,
            ClassifierPrefix = manifest.ClassifierPrefix ?? "",
            EmbeddingMethod = manifest.EmbeddingMethod,
            Features = manifest.Features,
        };
    }

    /// <summary>The manifest that describes this model (for export beside an adapted TorchScript file).</summary>
    public ModelManifest ToManifest() => new()
    {
        Name = Name ?? Architecture,
        Format = ModelManifest.TorchScriptFormat,
        InputShape = InputShape,
        InputScale = InputScale,
        Classes = Classes,
        EmbeddingMethod = EmbeddingMethod,
        ClassifierPrefix = ClassifierPrefix,
        Features = Features,
    };
}

/// <summary>One prediction: the arg-max class and the softmax probabilities.</summary>
public sealed record Prediction(int Class, float[] Probabilities);

/// <summary>
/// A model (any <see cref="ClassifierNetwork"/>) with its metadata and its adaptation history (per-element counts
/// of how many earlier sparse adaptations selected each parameter element; used for the 0.9^k overlap penalty).
/// Save/Load keep all three in one file; a TorchScript model is stored as the bytes PyTorch saved, so
/// <see cref="ExportTorchScript"/> hands back a file <c>torch.jit.load</c> reads.
/// </summary>
public sealed class ModelBundle : IDisposable
{
    private const string Magic = "PIPELINE-ML-MODEL-1";
    private const string TorchScriptEntry = "torchscript";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Wraps a network (takes ownership); architecture and parameter count always come from the network.</summary>
    public ModelBundle(ClassifierNetwork network, ModelInfo info, Dictionary<string, Tensor>? selectionCounts = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(info);
        Model = network;
        Info = info with { Architecture = network.Architecture, ParamsTotal = network.ParameterCount(), ClassifierPrefix = network.ClassifierPrefix };
        SelectionCounts = selectionCounts ?? [];
    }

    /// <summary>Wraps a built-in model (takes ownership); input shape and classes default to the built-in's.</summary>
    public ModelBundle(AdaptiveModel model, ModelInfo? info = null, Dictionary<string, Tensor>? selectionCounts = null)
        : this(new BuiltInNetwork(model ?? throw new ArgumentNullException(nameof(model))), BuiltInInfo(model, info), selectionCounts)
    {
    }

    /// <summary>The network: named parameters and buffers, forward, embed.</summary>
    public ClassifierNetwork Model { get; }

    /// <summary>Metadata.</summary>
    public ModelInfo Info { get; private set; }

    /// <summary>Per-parameter int16 counts of earlier selections (absent = never selected). On the CPU.</summary>
    public Dictionary<string, Tensor> SelectionCounts { get; }

    /// <summary>Device the model currently lives on.</summary>
    public Device Device => Model.Device;

    /// <summary>Values in one input row (the product of <see cref="ModelInfo.InputShape"/>).</summary>
    public int InputLength => Features.Length(Info.InputShape);

    /// <summary>True when inputs are floats in [0, 1].</summary>
    public bool UnitScale => Info.InputScale == ModelManifest.UnitScale;

    /// <summary>Creates a freshly initialised built-in model.</summary>
    public static ModelBundle Create(string architecture, int seed, string? notes = null)
    {
        var model = ModelFactory.Create(architecture, seed);
        return new ModelBundle(model, BuiltInInfo(model, null) with { Notes = notes });
    }

    /// <summary>
    /// Loads a user's TorchScript file described by <paramref name="manifest"/> and proves they agree: the classifier
    /// prefix names parameters, the module accepts a batch of the input shape and returns one logit per class, and
    /// the embedding method (when named) returns [N, D] features.
    /// </summary>
    /// <exception cref="ModelValidationException">Any disagreement, with the reason.</exception>
    public static ModelBundle FromTorchScript(string path, ModelManifest manifest, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(manifest);
        var problems = manifest.Validate();
        if (problems.Count > 0) throw new ModelValidationException(problems);
        if (!File.Exists(path)) throw new ModelValidationException([$"model file {path} does not exist"]);
        TorchScriptNetwork network;
        try
        {
            network = TorchScriptNetwork.Load(File.ReadAllBytes(path), manifest.ClassifierPrefix!, manifest.EmbeddingMethod, device ?? ComputeDevice.Resolve());
        }
        catch (InvalidDataException ex)
        {
            throw new ModelValidationException($"{Path.GetFileName(path)} is {ex.Message}", ex);
        }
        var bundle = new ModelBundle(network, ModelInfo.FromManifest(manifest));
        try
        {
            ModelProbe.Check(bundle);
            return bundle;
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a model file for registration: a TorchScript file (a zip, as <c>torch.jit.save</c> writes it) with its
    /// manifest, or a pipeline model file (<see cref="Save"/>), which carries its own metadata.
    /// </summary>
    /// <exception cref="ModelValidationException">The file is neither, or disagrees with the manifest.</exception>
    public static ModelBundle Open(string path, ModelManifest? manifest, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var head = new byte[4];
        using (var f = File.OpenRead(path))
        {
            _ = f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        }
        if (head is [(byte)'P', (byte)'K', 3, 4])
        {
            if (manifest is null) throw new ModelValidationException(["a TorchScript model needs its manifest (--manifest)"]);
            return FromTorchScript(path, manifest, device);
        }
        if (manifest is not null)
            throw new ModelValidationException(["the file is not TorchScript (torch.jit.save writes a zip archive); a pipeline model file takes no manifest"]);
        try
        {
            return Load(path, device);
        }
        catch (InvalidDataException ex)
        {
            throw new ModelValidationException($"the file is neither TorchScript saved by PyTorch nor a pipeline model file ({ex.Message})", ex);
        }
    }

    /// <summary>Moves the model to a device (in place) and returns this bundle.</summary>
    public ModelBundle To(Device device)
    {
        Model.MoveTo(device);
        return this;
    }

    /// <summary>Replaces the metadata (architecture and parameter count are always recomputed).</summary>
    public void SetInfo(ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        Info = info with { Architecture = Model.Architecture, ParamsTotal = Model.ParameterCount(), ClassifierPrefix = Model.ClassifierPrefix };
    }

    /// <summary>A deep copy (parameters, buffers, history) on the given device (default: the same device).</summary>
    public ModelBundle Clone(Device? device = null)
    {
        var copy = Model.Copy(device ?? Device);
        var counts = SelectionCounts.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        return new ModelBundle(copy, Info, counts);
    }

    /// <summary>Saves weights, metadata and adaptation history to <paramref name="path"/> (atomic replace).</summary>
    public void Save(string path)
    {
        var counts = SelectionCounts.Select(kv => ("count:" + kv.Key, kv.Value));
        if (Model is TorchScriptNetwork script)
        {
            using var bytes = torch.tensor(script.ToBytes());
            TensorFile.Write(path, Magic, JsonSerializer.Serialize(Info, Json), counts.Prepend((TorchScriptEntry, bytes)));
            return;
        }
        var tensors = Model.NamedParameters().Select(p => ("param:" + p.Name, (Tensor)p.Parameter)).Concat(counts);
        TensorFile.Write(path, Magic, JsonSerializer.Serialize(Info, Json), tensors);
    }

    /// <summary>Writes the network as a TorchScript file PyTorch loads (user models only).</summary>
    public void ExportTorchScript(string path)
    {
        if (Model is not TorchScriptNetwork script)
            throw new InvalidOperationException($"{Info.Architecture} is a built-in architecture, not a TorchScript module");
        script.Save(path);
    }

    /// <summary>Loads a model saved with <see cref="Save"/> onto the device (default: auto).</summary>
    public static ModelBundle Load(string path, Device? device = null)
    {
        var (meta, tensors) = TensorFile.Read(path, Magic);
        try
        {
            var info = JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
            var counts = tensors.Where(t => t.Name.StartsWith("count:", StringComparison.Ordinal))
                .ToDictionary(t => t.Name[6..], t => t.Tensor.clone());
            var target = device ?? ComputeDevice.Resolve();
            ClassifierNetwork network = info.Architecture == TorchScriptNetwork.ArchitectureName
                ? LoadScript(path, info, tensors, target)
                : LoadBuiltIn(path, info, tensors, target);
            var bundle = new ModelBundle(network, info, counts);
            if (bundle.Info.ParamsTotal != info.ParamsTotal && info.ParamsTotal != 0)
            {
                bundle.Dispose();
                throw new InvalidDataException($"{path}: params_total {info.ParamsTotal} does not match the network ({bundle.Info.ParamsTotal})");
            }
            return bundle;
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }

    private static TorchScriptNetwork LoadScript(string path, ModelInfo info, List<(string Name, Tensor Tensor)> tensors, Device device)
    {
        var entry = tensors.FirstOrDefault(t => t.Name == TorchScriptEntry).Tensor
            ?? throw new InvalidDataException($"{path}: a torchscript model without its module bytes");
        return TorchScriptNetwork.Load(entry.data<byte>().ToArray(), info.ClassifierPrefix, info.EmbeddingMethod, device);
    }

    private static BuiltInNetwork LoadBuiltIn(string path, ModelInfo info, List<(string Name, Tensor Tensor)> tensors, Device device)
    {
        var model = ModelFactory.Create(info.Architecture, null, info.Classes.Length);
        try
        {
            var byName = tensors.Where(t => t.Name.StartsWith("param:", StringComparison.Ordinal)).ToDictionary(t => t.Name[6..], t => t.Tensor);
            using (torch.no_grad())
            {
                foreach (var (name, p) in model.named_parameters())
                {
                    if (!byName.TryGetValue(name, out var t)) throw new InvalidDataException($"{path}: missing parameter {name}");
                    if (!t.shape.SequenceEqual(p.shape)) throw new InvalidDataException($"{path}: shape mismatch for {name}");
                    p.copy_(t);
                }
            }
            model.to(device);
            return new BuiltInNetwork(model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Reads only the metadata of a model file.</summary>
    public static ModelInfo ReadInfo(string path)
    {
        var (meta, tensors) = TensorFile.Read(path, Magic);
        foreach (var (_, t) in tensors) t.Dispose();
        return JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
    }

    /// <summary>Feature rows (row-major, <see cref="InputLength"/> floats each) as an input tensor [N, ...input_shape] on the CPU.</summary>
    public Tensor ToInputs(IReadOnlyList<float[]> rows) => Features.ToTensor(rows, Info.InputShape);

    /// <summary>Class predictions and probabilities for feature rows (<see cref="InputLength"/> floats each).</summary>
    public Prediction[] Predict(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var inputs = ToInputs(features);
        using var probs = PredictProbabilities(inputs, batchSize);
        var c = Info.Classes.Length;
        var flat = probs.contiguous().data<float>().ToArray();
        var result = new Prediction[features.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var row = flat.AsSpan(i * c, c).ToArray();
            var best = 0;
            for (var j = 1; j < c; j++) if (row[j] > row[best]) best = j;
            result[i] = new Prediction(best, row);
        }
        return result;
    }

    /// <summary>Softmax probabilities [N, classes] (CPU tensor, caller disposes) for inputs [N, ...input_shape].</summary>
    public Tensor PredictProbabilities(Tensor inputs, int batchSize = 512) =>
        Batched(inputs, batchSize, x => torch.nn.functional.softmax(Model.Forward(x), 1), Info.Classes.Length);

    /// <summary>Logits [N, classes] (CPU tensor, caller disposes) for inputs [N, ...input_shape].</summary>
    public Tensor Logits(Tensor inputs, int batchSize = 512) => Batched(inputs, batchSize, Model.Forward, Info.Classes.Length);

    /// <summary>Embeddings [N, D] for feature rows; for MMD drift detection (the logits when the model has no embedding).</summary>
    public float[][] Embed(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var inputs = ToInputs(features);
        using var emb = EmbedTensor(inputs, batchSize);
        var d = (int)emb.shape[1];
        var flat = emb.contiguous().data<float>().ToArray();
        var result = new float[features.Count][];
        for (var i = 0; i < result.Length; i++) result[i] = flat.AsSpan(i * d, d).ToArray();
        return result;
    }

    /// <summary>Embeddings [N, D] (CPU tensor, caller disposes) for inputs [N, ...input_shape].</summary>
    public Tensor EmbedTensor(Tensor inputs, int batchSize = 512) =>
        Batched(inputs, batchSize, x => Model.Embed(x).flatten(1), 0);

    /// <summary>
    /// Runs <paramref name="f"/> in evaluation mode without gradients over batches and concatenates the results on
    /// the CPU. Evaluation mode means batch norm uses its running statistics and dropout is off, as in serving.
    /// </summary>
    private Tensor Batched(Tensor inputs, int batchSize, Func<Tensor, Tensor> f, int emptyWidth)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var device = Device;
        Model.SetTraining(false);
        using var noGrad = torch.no_grad();
        var parts = new List<Tensor>();
        for (long s = 0; s < inputs.shape[0]; s += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var n = Math.Min(batchSize, inputs.shape[0] - s);
            parts.Add(f(inputs.narrow(0, s, n).to(device)).cpu().MoveToOuterDisposeScope());
        }
        if (parts.Count == 0) return torch.zeros(0, emptyWidth);
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    private static ModelInfo BuiltInInfo(AdaptiveModel model, ModelInfo? info)
    {
        var i = info ?? new ModelInfo { Architecture = model.Architecture };
        return i with
        {
            InputShape = i.InputShape.Length > 0 ? i.InputShape : model.InputShape.ToArray(),
            Classes = i.Classes.Length > 0 ? i.Classes : model.ClassNames.ToArray(),
            InputScale = ModelManifest.UnitScale,
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Model.Dispose();
        foreach (var t in SelectionCounts.Values) t.Dispose();
    }
}
