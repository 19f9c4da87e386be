using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Pipeline.ML.Readout;

/// <summary>The scalars of a readout as a model file stores them (JSON); its tensors travel beside it.</summary>
public sealed record ReadoutInfo
{
    /// <summary>"prototype" or "ridge".</summary>
    [JsonPropertyName("kind")]
    public required string Kind { get; init; }

    /// <summary>
    /// True when the model's predictions go through the readout (scores of the embedding); false when the classifier
    /// layer already holds it (a prototype readout folded into a linear classifier) and the statistics are kept only
    /// to accumulate over the next adaptation.
    /// </summary>
    [JsonPropertyName("serves")]
    public bool Serves { get; init; }

    /// <summary>Ridge: λ chosen at the last update.</summary>
    [JsonPropertyName("lambda")]
    public double? Lambda { get; init; }

    /// <summary>Prototype: sum of embedding norms seen (for the folded classifier's scale).</summary>
    [JsonPropertyName("norm_sum")]
    public double? NormSum { get; init; }

    /// <summary>Prototype: embeddings seen.</summary>
    [JsonPropertyName("norm_count")]
    public long? NormCount { get; init; }
}

/// <summary>A readout's persisted state: scalars and named CPU float64 tensors (not owned by this record).</summary>
public sealed record ReadoutState(ReadoutInfo Info, IReadOnlyList<(string Name, Tensor Tensor)> Tensors)
{
    /// <summary>True when a tensor of that name is present.</summary>
    public bool Has(string name) => Tensors.Any(t => t.Name == name);

    /// <summary>The named tensor, checked for dtype and rank.</summary>
    /// <exception cref="InvalidDataException">Missing, or of another dtype or rank.</exception>
    public Tensor Get(string name, ScalarType dtype, int rank)
    {
        var t = Tensors.FirstOrDefault(x => x.Name == name).Tensor
            ?? throw new InvalidDataException($"{Info.Kind} readout: missing tensor {name}");
        if (t.dtype != dtype || t.dim() != rank)
            throw new InvalidDataException($"{Info.Kind} readout: tensor {name} is {t.dtype} of rank {t.dim()}, expected {dtype} of rank {rank}");
        return t;
    }
}

/// <summary>Writes readouts into model files and reads them back.</summary>
public static class Readouts
{
    /// <summary>Name prefix of a readout's entries in a model file.</summary>
    public const string EntryPrefix = "readout:";

    /// <summary>The entry holding <see cref="ReadoutInfo"/> as UTF-8 JSON bytes.</summary>
    public const string InfoEntry = EntryPrefix + "info";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>The file entries of a readout: its info (UTF-8 JSON as a uint8 tensor, caller disposes) and its tensors (not copied).</summary>
    public static (Tensor Info, IEnumerable<(string Name, Tensor Tensor)> Tensors) Entries(IReadout readout, bool serves)
    {
        ArgumentNullException.ThrowIfNull(readout);
        var state = readout.State();
        var json = JsonSerializer.SerializeToUtf8Bytes(state.Info with { Serves = serves }, Json);
        return (TorchSharp.torch.tensor(json), state.Tensors.Select(t => (EntryPrefix + t.Name, t.Tensor)));
    }

    /// <summary>
    /// The readout among a model file's entries (null when the file has none), and whether it serves. The tensors
    /// are copied; the entries stay the caller's.
    /// </summary>
    /// <exception cref="InvalidDataException">A readout entry that cannot be read back.</exception>
    public static (IReadout Readout, bool Serves)? Restore(IReadOnlyList<(string Name, Tensor Tensor)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var infoBytes = entries.FirstOrDefault(e => e.Name == InfoEntry).Tensor;
        if (infoBytes is null) return null;
        ReadoutInfo info;
        try
        {
            info = JsonSerializer.Deserialize<ReadoutInfo>(infoBytes.data<byte>().ToArray(), Json)
                ?? throw new InvalidDataException("readout info is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"readout info is not valid JSON: {ex.Message}", ex);
        }
        var tensors = entries.Where(e => e.Name.StartsWith(EntryPrefix, StringComparison.Ordinal) && e.Name != InfoEntry)
            .Select(e => (e.Name[EntryPrefix.Length..], e.Tensor)).ToList();
        var state = new ReadoutState(info, tensors);
        IReadout readout = info.Kind switch
        {
            "prototype" => PrototypeReadout.Restore(state),
            "ridge" => RidgeReadout.Restore(state),
            _ => throw new InvalidDataException($"unknown readout kind '{info.Kind}' (prototype|ridge)"),
        };
        return (readout, info.Serves);
    }
}
