using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>
/// A user's model: a TorchScript module saved by PyTorch (<c>torch.jit.script</c>/<c>trace</c> + <c>torch.jit.save</c>)
/// whose <c>forward(x)</c> returns logits, optionally exporting a method that returns penultimate features.
/// Parameters and buffers keep the names PyTorch gave them, so an adapted module saved back loads in PyTorch.
/// </summary>
public sealed class TorchScriptNetwork : ClassifierNetwork
{
    private readonly jit.ScriptModule<Tensor, Tensor> module;

    private TorchScriptNetwork(jit.ScriptModule<Tensor, Tensor> module, string classifierPrefix, string? embeddingMethod)
    {
        this.module = module;
        ClassifierPrefix = classifierPrefix;
        EmbeddingMethod = embeddingMethod;
    }

    /// <summary>Architecture name of every TorchScript model.</summary>
    public const string ArchitectureName = "torchscript";

    /// <inheritdoc />
    public override string Architecture => ArchitectureName;

    /// <inheritdoc />
    public override nn.Module Module => module;

    /// <inheritdoc />
    public override string ClassifierPrefix { get; }

    /// <summary>The exported method returning penultimate features (null = none; <see cref="Embed"/> returns logits).</summary>
    public string? EmbeddingMethod { get; }

    /// <inheritdoc />
    public override bool HasEmbedding => EmbeddingMethod is not null;

    /// <summary>
    /// Loads TorchScript bytes onto <paramref name="device"/>. The module starts in evaluation mode: batch-norm
    /// running statistics are used, never updated, unless a caller switches to training mode on purpose.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a TorchScript module libtorch can load.</exception>
    public static TorchScriptNetwork Load(byte[] torchScript, string classifierPrefix, string? embeddingMethod, Device device)
    {
        ArgumentNullException.ThrowIfNull(torchScript);
        ArgumentNullException.ThrowIfNull(classifierPrefix);
        ArgumentNullException.ThrowIfNull(device);
        jit.ScriptModule<Tensor, Tensor> loaded;
        try
        {
            loaded = jit.load<Tensor, Tensor>(torchScript, device);
        }
        catch (Exception ex) when (ex is System.Runtime.InteropServices.ExternalException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"not a TorchScript module ({FirstLine(ex.Message)})", ex);
        }
        loaded.eval();
        return new TorchScriptNetwork(loaded, classifierPrefix, embeddingMethod);
    }

    /// <summary>The module as TorchScript bytes (current parameters and buffers), loadable by PyTorch's <c>torch.jit.load</c>.</summary>
    public byte[] ToBytes()
    {
        var temp = Path.Combine(Path.GetTempPath(), $"pipeline-ts-{Guid.NewGuid():N}.pt");
        try
        {
            jit.save(module, temp);
            return File.ReadAllBytes(temp);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Writes the module as a TorchScript file PyTorch loads.</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, ToBytes());
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => module.forward(input);

    /// <inheritdoc />
    public override Tensor Embed(Tensor input)
    {
        if (EmbeddingMethod is null) return module.forward(input);
        var result = module.invoke(EmbeddingMethod, input);
        return result as Tensor
            ?? throw new InvalidDataException($"the module's '{EmbeddingMethod}' method returned {result?.GetType().Name ?? "nothing"}, not a tensor");
    }

    /// <inheritdoc />
    public override (Tensor Logits, Tensor Embedding) ForwardWithEmbedding(Tensor input)
    {
        if (EmbeddingMethod is not null) return base.ForwardWithEmbedding(input);
        var logits = module.forward(input);
        return (logits, logits.alias());
    }

    /// <inheritdoc />
    public override ClassifierNetwork Copy(Device device)
    {
        var copy = Load(ToBytes(), ClassifierPrefix, EmbeddingMethod, device);
        copy.SetTraining(module.training);
        return copy;
    }

    /// <inheritdoc />
    public override void MoveTo(Device device) => module.to(device);

    /// <inheritdoc />
    public override void SetTraining(bool training) => module.train(training);

    /// <inheritdoc />
    protected override void DisposeNetwork() => module.Dispose();

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 200 ? line[..200] + "…" : line;
    }
}
