using static TorchSharp.torch;

namespace Pipeline.ML.Readout;

/// <summary>
/// A readout as NumPy arrays (<c>MODEL.readout.npz</c> beside an exported <c>MODEL.pt</c>), the file
/// <c>tools/byom/load_adapted.py</c> reads to predict as the service does:
/// <list type="bullet">
/// <item><c>format</c> (int64, 1), <c>kind</c> ("ridge" or "prototype"), <c>serves</c> (bool: predictions go through
/// the readout; false when the classifier already holds it), <c>embedding_method</c> (the module's method giving the
/// embedding; "" = forward), <c>classes</c> (class names);</item>
/// <item>ridge: <c>w_rand</c> [D, M], <c>weights</c> [M, C] (scores = ReLU(e·w_rand)·weights), and the statistics
/// <c>g</c> [M, M], <c>q</c> [M, C], <c>lambda</c>;</item>
/// <item>prototype: <c>sums</c> [C, D], <c>counts</c> [C] (scores = cos(e, sums/counts)), <c>norm_sum</c>,
/// <c>norm_count</c>.</item>
/// </list>
/// Every statistic is float64, as the service keeps it; the embedding is flattened to [N, D] and scored in float64.
/// </summary>
public static class ReadoutExport
{
    /// <summary>Version of the layout above.</summary>
    public const long Format = 1;

    /// <summary>The file name of the readout beside a model file: <c>a/b.pt</c> → <c>a/b.readout.npz</c>.</summary>
    public static string PathBeside(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        var dir = Path.GetDirectoryName(modelPath) ?? "";
        return Path.Combine(dir, Path.GetFileNameWithoutExtension(modelPath) + ".readout.npz");
    }

    /// <summary>The arrays of <paramref name="readout"/> (tensors are read, not taken).</summary>
    public static NpzWriter ToNpz(IReadout readout, bool serves, string? embeddingMethod, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(readout);
        ArgumentNullException.ThrowIfNull(classes);
        var state = readout.State();
        var npz = new NpzWriter()
            .Add("format", new[] { Format })
            .Add("kind", state.Info.Kind)
            .Add("serves", serves)
            .Add("embedding_method", embeddingMethod ?? "")
            .Add("classes", classes);
        foreach (var (name, tensor) in state.Tensors)
        {
            using var t = tensor.detach().cpu().to(ScalarType.Float64).contiguous();
            npz.Add(name, t.data<double>().ToArray(), [.. t.shape]);
        }

        if (state.Info.Lambda is { } lambda) npz.Add("lambda", new[] { lambda });
        if (state.Info.NormSum is { } normSum) npz.Add("norm_sum", new[] { normSum });
        if (state.Info.NormCount is { } normCount) npz.Add("norm_count", new[] { normCount });
        return npz;
    }
}
