using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Sensitivity;

/// <summary>Coverage of one parameter tensor by a mask.</summary>
public sealed record LayerSelection
{
    /// <summary>Parameter name, e.g. "backbone.fc.weight" (a user's model keeps PyTorch's names).</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>"backbone", "projection" or "classifier".</summary>
    [JsonPropertyName("group")]
    public required string Group { get; init; }

    /// <summary>"top-k" (scored), "random" (random with the same count), "all" (kept trainable), "none" (frozen).</summary>
    [JsonPropertyName("policy")]
    public required string Policy { get; init; }

    /// <summary>Elements in the tensor.</summary>
    [JsonPropertyName("total")]
    public long Total { get; init; }

    /// <summary>Elements selected.</summary>
    [JsonPropertyName("selected")]
    public long Selected { get; init; }

    /// <summary>Selected / Total.</summary>
    [JsonPropertyName("fraction")]
    public double Fraction { get; init; }
}

/// <summary>Metadata of a mask file.</summary>
public sealed record MaskInfo
{
    /// <summary>How the elements were chosen: "mi" (MI-Fisher), "random", "full", "head".</summary>
    [JsonPropertyName("strategy")]
    public required string Strategy { get; init; }

    /// <summary>Architecture of the model it belongs to.</summary>
    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    /// <summary>Fraction kept per scored backbone weight tensor.</summary>
    [JsonPropertyName("select_rate")]
    public double SelectRate { get; init; }

    /// <summary>Seed used (random masks, augmentations).</summary>
    [JsonPropertyName("seed")]
    public int Seed { get; init; }

    /// <summary>All parameter elements of the model.</summary>
    [JsonPropertyName("params_total")]
    public long ParamsTotal { get; init; }

    /// <summary>Elements selected in total (all tensors).</summary>
    [JsonPropertyName("selected_total")]
    public long SelectedTotal { get; init; }

    /// <summary>SelectedTotal / ParamsTotal.</summary>
    [JsonPropertyName("selected_fraction")]
    public double SelectedFraction { get; init; }

    /// <summary>Per-tensor coverage.</summary>
    [JsonPropertyName("coverage")]
    public List<LayerSelection> Coverage { get; init; } = [];
}

/// <summary>
/// Boolean masks (one per parameter tensor, CPU) saying which elements may change during tuning,
/// with a per-layer coverage report. Saved to and loaded from a single file.
/// </summary>
public sealed class SensitivityMask : IDisposable
{
    private const string Magic = "PIPELINE-ML-MASK-1";

    /// <summary>Builds a mask from per-parameter bool tensors (takes ownership) and computes coverage.</summary>
    public SensitivityMask(string strategy, string architecture, double selectRate, int seed,
        Dictionary<string, Tensor> masks, IReadOnlyDictionary<string, string> policies, Func<string, ParameterGroup>? groupOf = null)
    {
        groupOf ??= AdaptiveModel.GroupOf;
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(policies);
        Masks = masks;
        var coverage = new List<LayerSelection>();
        long total = 0, selected = 0;
        foreach (var (name, m) in masks)
        {
            var n = m.numel();
            var s = m.sum().ToInt64();
            total += n;
            selected += s;
            coverage.Add(new LayerSelection
            {
                Name = name,
                Group = groupOf(name).ToString().ToLowerInvariant(),
                Policy = policies.TryGetValue(name, out var p) ? p : "none",
                Total = n,
                Selected = s,
                Fraction = n == 0 ? 0 : (double)s / n,
            });
        }
        Info = new MaskInfo
        {
            Strategy = strategy,
            Architecture = architecture,
            SelectRate = selectRate,
            Seed = seed,
            ParamsTotal = total,
            SelectedTotal = selected,
            SelectedFraction = total == 0 ? 0 : (double)selected / total,
            Coverage = coverage,
        };
    }

    private SensitivityMask(MaskInfo info, Dictionary<string, Tensor> masks)
    {
        Info = info;
        Masks = masks;
    }

    /// <summary>Metadata and coverage.</summary>
    public MaskInfo Info { get; }

    /// <summary>Per-parameter bool masks (true = may change), on the CPU.</summary>
    public Dictionary<string, Tensor> Masks { get; }

    /// <summary>Selected elements / all parameter elements.</summary>
    public double SelectedFraction => Info.SelectedFraction;

    /// <summary>Per-layer coverage.</summary>
    public IReadOnlyList<LayerSelection> Coverage => Info.Coverage;

    /// <summary>Saves the mask (metadata + bool tensors) to a file.</summary>
    public void Save(string path) =>
        TensorFile.Write(path, Magic, JsonSerializer.Serialize(Info), Masks.Select(kv => (kv.Key, kv.Value)));

    /// <summary>Loads a mask saved with <see cref="Save"/>.</summary>
    public static SensitivityMask Load(string path)
    {
        var (meta, tensors) = TensorFile.Read(path, Magic);
        var info = JsonSerializer.Deserialize<MaskInfo>(meta) ?? throw new InvalidDataException($"{path}: missing metadata");
        return new SensitivityMask(info, tensors.ToDictionary(t => t.Name, t => t.Tensor));
    }

    /// <summary>Checks that the mask fits the model (same names and shapes).</summary>
    public void EnsureCompatible(ModelBundle model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (name, p) in model.Model.NamedParameters())
        {
            if (!Masks.TryGetValue(name, out var m))
                throw new InvalidOperationException($"mask has no entry for parameter {name}");
            if (!m.shape.SequenceEqual(p.shape))
                throw new InvalidOperationException($"mask shape for {name} does not match the model");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Masks.Values) t.Dispose();
    }
}
