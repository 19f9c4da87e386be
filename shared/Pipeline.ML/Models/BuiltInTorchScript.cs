using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>
/// A built-in network (cnn-small, mlp) as TorchScript: the embedded template that tools/byom/builtin_templates.py
/// wrote with PyTorch (the same layers and parameter names as <see cref="AdaptiveModel"/>, zero weights, an exported
/// <c>embed</c> method) filled with the network's parameters. TorchSharp cannot script a module itself.
/// </summary>
public static class BuiltInTorchScript
{
    /// <summary>The exported method of a converted built-in that returns its embedding.</summary>
    public const string EmbeddingMethod = "embed";

    /// <summary>The built-in as a TorchScript network on the CPU (caller disposes).</summary>
    /// <exception cref="InvalidOperationException">No template for the architecture, or a parameter that does not fit it.</exception>
    public static TorchScriptNetwork Convert(BuiltInNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var script = TorchScriptNetwork.Load(Template(network.Architecture), network.ClassifierPrefix, EmbeddingMethod, torch.CPU);
        try
        {
            var target = script.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            var source = network.NamedParameters();
            if (target.Count != source.Count || source.Any(p => !target.ContainsKey(p.Name)))
                throw new InvalidOperationException(
                    $"the {network.Architecture} template's parameters ({string.Join(", ", target.Keys)}) differ from the network's ({string.Join(", ", source.Select(p => p.Name))})");
            using (torch.no_grad())
            {
                foreach (var (name, p) in source)
                {
                    var t = target[name];
                    if (!t.shape.SequenceEqual(p.shape))
                        throw new InvalidOperationException(
                            $"{network.Architecture} parameter {name} is [{string.Join(", ", p.shape)}]; the TorchScript template has [{string.Join(", ", t.shape)}] (built-ins export with {t.shape[0]} classes only)");
                    t.copy_(p.detach().cpu());
                }
            }

            return script;
        }
        catch
        {
            script.Dispose();
            throw;
        }
    }

    private static byte[] Template(string architecture)
    {
        var name = $"Pipeline.ML.Models.Templates.{architecture}.pt.gz";
        using var resource = typeof(BuiltInTorchScript).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"no TorchScript template for architecture '{architecture}' (known: {string.Join(", ", ModelFactory.Architectures)})");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return bytes.ToArray();
    }
}
