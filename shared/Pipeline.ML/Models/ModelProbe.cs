using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>Proves a loaded model agrees with its manifest before anything is registered.</summary>
internal static class ModelProbe
{
    public static void Check(ModelBundle bundle)
    {
        var info = bundle.Info;
        var net = bundle.Model;
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        if (names.Count == 0) throw new ModelValidationException(["the module has no parameters to adapt"]);
        if (!names.Any(n => ClassifierNetwork.IsUnder(n, info.ClassifierPrefix)))
        {
            throw new ModelValidationException([
                $"classifier_prefix '{info.ClassifierPrefix}' names no parameter; {Prefixes(names)}"]);
        }
        if (names.All(n => ClassifierNetwork.IsUnder(n, info.ClassifierPrefix)))
            throw new ModelValidationException([$"classifier_prefix '{info.ClassifierPrefix}' covers every parameter; it must name only the final layer"]);

        var shape = "[" + string.Join(", ", info.InputShape) + "]";
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        net.SetTraining(false);
        var x = torch.zeros(new long[] { 2 }.Concat(info.InputShape.Select(d => (long)d)).ToArray(), device: net.Device);
        Tensor logits;
        try
        {
            logits = net.Forward(x);
        }
        catch (Exception ex) when (ex is System.Runtime.InteropServices.ExternalException or InvalidCastException or InvalidOperationException)
        {
            throw new ModelValidationException($"the module rejects input_shape {shape}: forward on a [2, {string.Join(", ", info.InputShape)}] batch failed: {FirstLine(ex.Message)}", ex);
        }
        if (logits.dim() != 2 || logits.shape[0] != 2 || logits.shape[1] != info.Classes.Length)
        {
            throw new ModelValidationException([
                $"forward returned [{string.Join(", ", logits.shape)}] for a batch of 2; the manifest lists {info.Classes.Length} classes, so it must return [2, {info.Classes.Length}] logits"]);
        }
        if (logits.dtype != ScalarType.Float32)
            throw new ModelValidationException([$"forward returned {logits.dtype} logits; float32 is required"]);

        if (info.EmbeddingMethod is { } method)
        {
            Tensor emb;
            try
            {
                emb = net.Embed(x);
            }
            catch (Exception ex) when (ex is System.Runtime.InteropServices.ExternalException or InvalidCastException or InvalidOperationException or InvalidDataException)
            {
                throw new ModelValidationException($"embedding_method '{method}' cannot be called on the module: {FirstLine(ex.Message)}", ex);
            }
            if (emb.dim() < 2 || emb.shape[0] != 2)
                throw new ModelValidationException([$"embedding_method '{method}' returned [{string.Join(", ", emb.shape)}]; it must return [N, D] features"]);
        }
    }

    /// <summary>
    /// Every layer that owns parameters (each parameter name without its last part), in the module's order: all of
    /// them are candidates for classifier_prefix, and the last one is usually the classifier.
    /// </summary>
    internal static string Prefixes(IReadOnlyList<string> names)
    {
        var prefixes = names.Select(n => n.LastIndexOf('.') is var i and > 0 ? n[..i] : n).Distinct(StringComparer.Ordinal).ToList();
        return $"the module's parameter prefixes are {string.Join(", ", prefixes)} (the last, '{prefixes[^1]}', is usually the final layer)";
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
