using System.Text.Json;
using Pipeline.ML.Readout;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>
/// The model file (<see cref="TensorFile"/>): metadata JSON (<see cref="ModelInfo"/>), then named tensors:
/// <c>param:NAME</c> (a built-in's parameters) or <c>torchscript</c> (a user module's bytes), <c>count:NAME</c>
/// (selection counts), <c>frozen:NAME</c> (MIST's permanently frozen elements) and <c>readout:…</c> (the readout's
/// info as UTF-8 JSON and its float64 statistics). A file without a readout is written with the original magic
/// (<c>PIPELINE-ML-MODEL-1</c>), byte-compatible with earlier readers; a file with one is written as
/// <c>PIPELINE-ML-MODEL-2</c>, which earlier readers refuse instead of serving the model without its readout.
/// </summary>
public sealed partial class ModelBundle
{
    private const string Magic = "PIPELINE-ML-MODEL-1";
    private const string MagicWithReadout = "PIPELINE-ML-MODEL-2";
    private const string TorchScriptEntry = "torchscript";
    private const string CountPrefix = "count:";
    private const string FrozenPrefix = "frozen:";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Saves weights, metadata, adaptation history and readout to <paramref name="path"/> (atomic replace).</summary>
    public void Save(string path)
    {
        var history = SelectionCounts.Select(kv => (CountPrefix + kv.Key, kv.Value))
            .Concat(FrozenElements.Select(kv => (FrozenPrefix + kv.Key, kv.Value))).ToList();
        Tensor? readoutInfo = null;
        var magic = Magic;
        if (Readout is { } readout)
        {
            var (info, tensors) = Readouts.Entries(readout, ServesReadout);
            readoutInfo = info;
            history.Add((Readouts.InfoEntry, info));
            history.AddRange(tensors);
            magic = MagicWithReadout;
        }
        try
        {
            if (Model is TorchScriptNetwork script)
            {
                using var bytes = torch.tensor(script.ToBytes());
                TensorFile.Write(path, magic, JsonSerializer.Serialize(Info, Json), history.Prepend((TorchScriptEntry, bytes)));
                return;
            }
            var parameters = Model.NamedParameters().Select(p => ("param:" + p.Name, (Tensor)p.Parameter));
            TensorFile.Write(path, magic, JsonSerializer.Serialize(Info, Json), parameters.Concat(history));
        }
        finally
        {
            readoutInfo?.Dispose();
        }
    }

    /// <summary>
    /// Writes the network as a TorchScript file PyTorch loads (a built-in through its TorchScript template,
    /// <see cref="BuiltInTorchScript"/>) and, when the version has a readout, the readout's arrays beside it
    /// (<c>NAME.readout.npz</c>, <see cref="ReadoutExport"/>): a version whose readout serves predicts as the service
    /// does only with both (tools/byom/load_adapted.py). A stale readout file of an earlier export at that place is
    /// removed. Returns the files written.
    /// </summary>
    public IReadOnlyList<string> ExportTorchScript(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var converted = Model switch
        {
            TorchScriptNetwork => null,
            BuiltInNetwork b => BuiltInTorchScript.Convert(b),
            _ => throw new InvalidOperationException($"{Info.Architecture} cannot be exported as TorchScript"),
        };
        try
        {
            var script = converted ?? (TorchScriptNetwork)Model;
            var beside = ReadoutExport.PathBeside(path);
            script.Save(path);
            if (Readout is not { } readout)
            {
                if (File.Exists(beside)) File.Delete(beside);
                return [path];
            }

            ReadoutExport.ToNpz(readout, ServesReadout, script.EmbeddingMethod, Info.Classes).Save(beside);
            return [path, beside];
        }
        finally
        {
            converted?.Dispose();
        }
    }

    /// <summary>
    /// The manifest of the exported TorchScript file (<see cref="ExportTorchScript"/>): this version's metadata; a
    /// built-in's names its template's <c>embed</c> method, so the file registers again as a user's model.
    /// </summary>
    public ModelManifest ExportManifest() => Model is BuiltInNetwork
        ? Info.ToManifest() with { EmbeddingMethod = BuiltInTorchScript.EmbeddingMethod }
        : Info.ToManifest();

    /// <summary>Loads a model saved with <see cref="Save"/> onto the device (default: auto).</summary>
    public static ModelBundle Load(string path, Device? device = null)
    {
        var ((meta, tensors), _) = TensorFile.Read(path, [Magic, MagicWithReadout]);
        try
        {
            var info = JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
            var counts = Prefixed(tensors, CountPrefix);
            var frozen = Prefixed(tensors, FrozenPrefix);
            var target = device ?? ComputeDevice.Resolve();
            ClassifierNetwork network = info.Architecture == TorchScriptNetwork.ArchitectureName
                ? LoadScript(path, info, tensors, target)
                : LoadBuiltIn(path, info, tensors, target);
            var bundle = new ModelBundle(network, info, counts);
            try
            {
                foreach (var (name, f) in frozen) bundle.FrozenElements[name] = f;
                if (bundle.Info.ParamsTotal != info.ParamsTotal && info.ParamsTotal != 0)
                    throw new InvalidDataException($"{path}: params_total {info.ParamsTotal} does not match the network ({bundle.Info.ParamsTotal})");
                if (Readouts.Restore(tensors) is var (readout, serves))
                    bundle.AttachReadout(readout, serves);
                return bundle;
            }
            catch (InvalidDataException ex) when (!ex.Message.StartsWith(path, StringComparison.Ordinal))
            {
                bundle.Dispose();
                throw new InvalidDataException($"{path}: {ex.Message}", ex);
            }
            catch
            {
                bundle.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }

    private static Dictionary<string, Tensor> Prefixed(List<(string Name, Tensor Tensor)> tensors, string prefix) =>
        tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(t => t.Name[prefix.Length..], t => t.Tensor.clone());

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
        var ((meta, tensors), _) = TensorFile.Read(path, [Magic, MagicWithReadout]);
        foreach (var (_, t) in tensors) t.Dispose();
        return JsonSerializer.Deserialize<ModelInfo>(meta, Json) ?? throw new InvalidDataException($"{path}: missing metadata");
    }
}
