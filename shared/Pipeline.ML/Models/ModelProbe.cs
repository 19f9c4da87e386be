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
                $"classifier_prefix '{info.ClassifierPrefix}' names no parameter; the module's parameters are {Sample(names)}"]);
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

    private static string Sample(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $", … ({names.Count} in all)" : "");

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
