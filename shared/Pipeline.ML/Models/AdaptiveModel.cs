using Pipeline.ML.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.ML.Models;

/// <summary>Which part of a model a parameter belongs to.</summary>
public enum ParameterGroup
{
    /// <summary>Feature extractor (prefix "backbone.").</summary>
    Backbone,

    /// <summary>Projection head used only by the mutual-information objective (prefix "projection.").</summary>
    Projection,

    /// <summary>Classifier head (prefix "classifier.").</summary>
    Classifier,
}

/// <summary>
/// A classifier split into backbone → embedding, projection head (MI objective) and classifier head.
/// Input: float32 [N, 1, 28, 28] in [0, 1] (the built-ins are Fashion-MNIST models). Output of <c>forward</c>: logits [N, classes].
/// </summary>
public abstract class AdaptiveModel : Module<Tensor, Tensor>
{
    /// <summary>Base constructor.</summary>
    protected AdaptiveModel(string name) : base(name)
    {
    }

    /// <summary>Architecture name ("cnn-small", "mlp").</summary>
    public abstract string Architecture { get; }

    /// <summary>Backbone embedding size.</summary>
    public abstract int EmbeddingDim { get; }

    /// <summary>Backbone: images → embeddings [N, EmbeddingDim].</summary>
    public abstract Tensor Embed(Tensor images);

    /// <summary>Projection head: embeddings → projection (not normalised).</summary>
    public abstract Tensor Project(Tensor embeddings);

    /// <summary>Classifier head: embeddings → logits.</summary>
    public abstract Tensor Classify(Tensor embeddings);

    /// <summary>The projection head module (parameters named <c>projection.…</c>).</summary>
    public abstract Module<Tensor, Tensor> ProjectionModule { get; }

    /// <summary>Number of classes.</summary>
    public abstract int Classes { get; }

    /// <summary>The built-ins are Fashion-MNIST networks: one input is a [1, 28, 28] image in [0, 1].</summary>
    public IReadOnlyList<int> InputShape => FashionMnist.InputShape;

    /// <summary>Fashion-MNIST's class names for 10 classes, otherwise "class 0", "class 1", ….</summary>
    public IReadOnlyList<string> ClassNames => Classes == FashionMnist.ClassNames.Count
        ? FashionMnist.ClassNames
        : Enumerable.Range(0, Classes).Select(i => $"class {i}").ToList();

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => Classify(Embed(input));

    /// <summary>Group of a parameter by its name.</summary>
    public static ParameterGroup GroupOf(string parameterName)
    {
        ArgumentNullException.ThrowIfNull(parameterName);
        if (parameterName.StartsWith("projection.", StringComparison.Ordinal)) return ParameterGroup.Projection;
        if (parameterName.StartsWith("classifier.", StringComparison.Ordinal)) return ParameterGroup.Classifier;
        return ParameterGroup.Backbone;
    }

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount() => parameters().Sum(p => p.numel());
}

/// <summary>Small CNN: conv(1→16)-pool-conv(16→32)-pool-fc(1568→128); projection 128→32; classifier 128→10.</summary>
public sealed class CnnSmall : AdaptiveModel
{
    private readonly Sequential backbone;
    private readonly Sequential projection;
    private readonly Sequential classifier;
    private readonly int classCount;

    /// <summary>Creates the network with the global torch RNG (seed it first for determinism).</summary>
    public CnnSmall(int classes = 10) : base("cnn-small")
    {
        backbone = Sequential(
            ("conv1", Conv2d(1, 16, 3, padding: 1)),
            ("relu1", ReLU()),
            ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(16, 32, 3, padding: 1)),
            ("relu2", ReLU()),
            ("pool2", MaxPool2d(2)),
            ("flatten", Flatten()),
            ("fc", Linear(32 * 7 * 7, 128)),
            ("relu3", ReLU()));
        projection = Sequential(("fc", Linear(128, 32)));
        classifier = Sequential(("fc", Linear(128, classes)));
        classCount = classes;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override string Architecture => "cnn-small";

    /// <inheritdoc />
    public override int EmbeddingDim => 128;

    /// <inheritdoc />
    public override Tensor Embed(Tensor images) => backbone.forward(images);

    /// <inheritdoc />
    public override Tensor Project(Tensor embeddings) => projection.forward(embeddings);

    /// <inheritdoc />
    public override Tensor Classify(Tensor embeddings) => classifier.forward(embeddings);

    /// <inheritdoc />
    public override Module<Tensor, Tensor> ProjectionModule => projection;

    /// <inheritdoc />
    public override int Classes => classCount;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            backbone.Dispose();
            projection.Dispose();
            classifier.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>MLP: 784→256→128 backbone; projection 128→32; classifier 128→10.</summary>
public sealed class Mlp : AdaptiveModel
{
    private readonly Sequential backbone;
    private readonly Sequential projection;
    private readonly Sequential classifier;
    private readonly int classCount;

    /// <summary>Creates the network with the global torch RNG (seed it first for determinism).</summary>
    public Mlp(int classes = 10) : base("mlp")
    {
        backbone = Sequential(
            ("flatten", Flatten()),
            ("fc1", Linear(FashionMnist.ImageLength, 256)),
            ("relu1", ReLU()),
            ("fc2", Linear(256, 128)),
            ("relu2", ReLU()));
        projection = Sequential(("fc", Linear(128, 32)));
        classifier = Sequential(("fc", Linear(128, classes)));
        classCount = classes;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override string Architecture => "mlp";

    /// <inheritdoc />
    public override int EmbeddingDim => 128;

    /// <inheritdoc />
    public override Tensor Embed(Tensor images) => backbone.forward(images);

    /// <inheritdoc />
    public override Tensor Project(Tensor embeddings) => projection.forward(embeddings);

    /// <inheritdoc />
    public override Tensor Classify(Tensor embeddings) => classifier.forward(embeddings);

    /// <inheritdoc />
    public override Module<Tensor, Tensor> ProjectionModule => projection;

    /// <inheritdoc />
    public override int Classes => classCount;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            backbone.Dispose();
            projection.Dispose();
            classifier.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Creates models by architecture name.</summary>
public static class ModelFactory
{
    /// <summary>Known architectures.</summary>
    public static readonly IReadOnlyList<string> Architectures = ["cnn-small", "mlp"];

    /// <summary>
    /// Creates an untrained model; parameters are initialised from <paramref name="seed"/> (this seeds torch's
    /// global generator). With a null seed the global generator is used as it is (for models about to be overwritten).
    /// </summary>
    public static AdaptiveModel Create(string architecture, int? seed, int classes = 10)
    {
        if (seed is { } s) torch.manual_seed(s);
        return architecture switch
        {
            "cnn-small" => new CnnSmall(classes),
            "mlp" => new Mlp(classes),
            _ => throw new ArgumentException($"unknown architecture '{architecture}' (known: {string.Join(", ", Architectures)})", nameof(architecture)),
        };
    }
}
