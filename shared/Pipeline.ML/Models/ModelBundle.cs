using Pipeline.ML.Data;
using Pipeline.ML.Readout;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>
/// A model (any <see cref="ClassifierNetwork"/>) with its metadata, its adaptation history (per-element counts
/// of how many earlier sparse adaptations selected each parameter element, for the 0.9^k overlap penalty, and
/// MIST's frozen elements) and an optional readout on the embedding that replaces the classifier in
/// <see cref="Forward"/>. Save/Load keep all of it in one file (ModelBundleFile.cs); a TorchScript model is stored as
/// the bytes PyTorch saved, so <see cref="ExportTorchScript"/> hands back a file <c>torch.jit.load</c> reads.
/// </summary>
public sealed partial class ModelBundle : IDisposable
{

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

    /// <summary>Per-parameter bool masks of elements MIST froze for good (absent = none frozen). On the CPU.</summary>
    public Dictionary<string, Tensor> FrozenElements { get; } = [];

    /// <summary>
    /// A readout on the embedding whose statistics accumulate over every adaptation (MIST's prototype or ridge
    /// readout), or null. Saved with the model and carried to the next adaptation.
    /// </summary>
    public IReadout? Readout { get; private set; }

    /// <summary>
    /// True when predictions are the readout's scores of <see cref="ClassifierNetwork.Embed"/> (the network's own
    /// classifier is then not used); false when there is no readout or the classifier already holds it (folded).
    /// </summary>
    public bool ServesReadout { get; private set; }

    /// <summary>Sets the readout (takes ownership; a different previous one is disposed) and whether predictions go through it.</summary>
    public void AttachReadout(IReadout readout, bool serves)
    {
        ArgumentNullException.ThrowIfNull(readout);
        if (!ReferenceEquals(readout, Readout)) Readout?.Dispose();
        Readout = readout;
        ServesReadout = serves;
    }

    /// <summary>
    /// Removes the readout: predictions go through the network's classifier again. Strategies that train the
    /// classifier by gradient call it on their copy (a readout fitted to the old embedding would be stale).
    /// </summary>
    public void DetachReadout()
    {
        Readout?.Dispose();
        Readout = null;
        ServesReadout = false;
    }

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

    /// <summary>A deep copy (parameters, buffers, history, readout) on the given device (default: the same device).</summary>
    public ModelBundle Clone(Device? device = null)
    {
        var copy = Model.Copy(device ?? Device);
        var counts = SelectionCounts.ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var bundle = new ModelBundle(copy, Info, counts);
        foreach (var (name, f) in FrozenElements) bundle.FrozenElements[name] = f.clone();
        if (Readout is { } r) bundle.AttachReadout(r.Clone(), ServesReadout);
        return bundle;
    }

    /// <summary>Feature rows (row-major, <see cref="InputLength"/> floats each) as an input tensor [N, ...input_shape] on the CPU.</summary>
    public Tensor ToInputs(IReadOnlyList<float[]> rows) => Features.ToTensor(rows, Info.InputShape);

    /// <summary>Class predictions and probabilities for feature rows (<see cref="InputLength"/> floats each).</summary>
    public Prediction[] Predict(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var inputs = ToInputs(features);
        using var probs = PredictProbabilities(inputs, batchSize);
        return ToPredictions(probs, features.Count);
    }

    /// <summary>Softmax probabilities [N, classes] (CPU tensor, caller disposes) for inputs [N, ...input_shape].</summary>
    public Tensor PredictProbabilities(Tensor inputs, int batchSize = 512) =>
        Batched(inputs, batchSize, x => torch.nn.functional.softmax(Forward(x), 1), Info.Classes.Length);

    /// <summary>Logits [N, classes] (CPU tensor, caller disposes) for inputs [N, ...input_shape].</summary>
    public Tensor Logits(Tensor inputs, int batchSize = 512) => Batched(inputs, batchSize, Forward, Info.Classes.Length);

    /// <summary>
    /// The served model's logits for one batch already on <see cref="Device"/>: the readout's scores of the
    /// embedding (on the CPU) when <see cref="ServesReadout"/>, otherwise the network's forward. No mode or
    /// gradient handling: callers set evaluation mode and no_grad as serving does.
    /// </summary>
    public Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!ServesReadout || Readout is not { } readout) return Model.Forward(input);
        using var emb = Model.Embed(input);
        using var flat = emb.flatten(1);
        return readout.Scores(flat);
    }

    /// <summary>
    /// What serving computes for drift monitoring, from the pass that makes the predictions: softmax probabilities
    /// [N, classes] and the embedding [N, D] (<see cref="ClassifierNetwork.Embed"/> flattened, the logits when the
    /// network has none), both CPU tensors the caller disposes. Inference uses it on production rows and
    /// DriftDetection on reference rows, so the two sides of every drift statistic share one definition.
    /// </summary>
    public (Tensor Probabilities, Tensor Embeddings) Serve(Tensor inputs, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var device = Device;
        Model.SetTraining(false);
        using var noGrad = torch.no_grad();
        var probs = new List<Tensor>();
        var embs = new List<Tensor>();
        try
        {
            for (long s = 0; s < inputs.shape[0]; s += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                var n = Math.Min(batchSize, inputs.shape[0] - s);
                var (logits, embedding) = ForwardWithEmbedding(inputs.narrow(0, s, n).to(device));
                probs.Add(torch.nn.functional.softmax(logits, 1).cpu().MoveToOuterDisposeScope());
                embs.Add(embedding.flatten(1).cpu().MoveToOuterDisposeScope());
            }

            if (probs.Count == 0) return (torch.zeros(0, Info.Classes.Length), torch.zeros(0, 0));
            return (torch.cat(probs, 0), torch.cat(embs, 0));
        }
        finally
        {
            foreach (var t in probs.Concat(embs)) t.Dispose();
        }
    }

    /// <summary><see cref="Serve(Tensor, int)"/> for feature rows: predictions and one embedding row per input row.</summary>
    public (Prediction[] Predictions, float[][] Embeddings) Serve(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var inputs = ToInputs(features);
        var (probs, embs) = Serve(inputs, batchSize);
        using (probs)
        using (embs)
        {
            return (ToPredictions(probs, features.Count), ToRows(embs, features.Count));
        }
    }

    /// <summary>The served logits and the embedding of one batch already on <see cref="Device"/> (see <see cref="Forward"/>).</summary>
    private (Tensor Logits, Tensor Embedding) ForwardWithEmbedding(Tensor input)
    {
        if (!ServesReadout || Readout is not { } readout) return Model.ForwardWithEmbedding(input);
        var emb = Model.Embed(input);
        using var flat = emb.flatten(1);
        return (readout.Scores(flat), emb);
    }

    private Prediction[] ToPredictions(Tensor probs, int count)
    {
        var c = Info.Classes.Length;
        var flat = probs.contiguous().data<float>().ToArray();
        var result = new Prediction[count];
        for (var i = 0; i < result.Length; i++)
        {
            var row = flat.AsSpan(i * c, c).ToArray();
            var best = 0;
            for (var j = 1; j < c; j++) if (row[j] > row[best]) best = j;
            result[i] = new Prediction(best, row);
        }
        return result;
    }

    private static float[][] ToRows(Tensor matrix, int count)
    {
        var d = count == 0 ? 0 : (int)matrix.shape[1];
        var flat = matrix.contiguous().data<float>().ToArray();
        var result = new float[count][];
        for (var i = 0; i < result.Length; i++) result[i] = flat.AsSpan(i * d, d).ToArray();
        return result;
    }

    /// <summary>Embeddings [N, D] for feature rows; for MMD drift detection (the logits when the model has no embedding).</summary>
    public float[][] Embed(IReadOnlyList<float[]> features, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(features);
        using var inputs = ToInputs(features);
        using var emb = EmbedTensor(inputs, batchSize);
        return ToRows(emb, features.Count);
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
        foreach (var t in FrozenElements.Values) t.Dispose();
        Readout?.Dispose();
    }
}
