using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.ML.Models;

/// <summary>
/// What every strategy, scorer, evaluator and service sees of a classifier, whoever built it: named
/// parameters and buffers, <see cref="Forward"/> to logits, an optional penultimate <see cref="Embed"/>,
/// and which parameters form the final layer. The built-in architectures and a user's TorchScript module
/// both sit behind it, so code written against it works on any model.
/// </summary>
public abstract class ClassifierNetwork : IDisposable
{
    private bool disposed;

    /// <summary>"cnn-small", "mlp" or "torchscript".</summary>
    public abstract string Architecture { get; }

    /// <summary>The torch module that owns the parameters and buffers (for autograd, device moves and mode).</summary>
    public abstract nn.Module Module { get; }

    /// <summary>Parameters named <c>{ClassifierPrefix}.…</c> form the final (classifier) layer.</summary>
    public abstract string ClassifierPrefix { get; }

    /// <summary>True when <see cref="Embed"/> gives penultimate features; otherwise it returns the logits.</summary>
    public abstract bool HasEmbedding { get; }

    /// <summary>
    /// The projection head the mutual-information objective uses, when the network carries one (the built-in
    /// architectures do, named <c>projection.…</c>). Null for a user's model: the scorer and tuner then create one
    /// beside the model (<see cref="ProjectionHead"/>), which never affects predictions and is never saved.
    /// </summary>
    public virtual Module<Tensor, Tensor>? Projection => null;

    /// <summary>Logits [N, classes] for inputs [N, ...input_shape].</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Penultimate features [N, D]; the logits when the network has no embedding method.</summary>
    public abstract Tensor Embed(Tensor input);

    /// <summary>
    /// Logits and <see cref="Embed"/>'s features for one batch, from one pass where the network allows it (the
    /// built-ins classify their own embedding; without an embedding method the logits are the embedding). The
    /// default makes the two calls. The caller disposes both tensors (they may share storage).
    /// </summary>
    public virtual (Tensor Logits, Tensor Embedding) ForwardWithEmbedding(Tensor input) => (Forward(input), Embed(input));

    /// <summary>A deep copy (parameters and buffers, bit-identical) on <paramref name="device"/>.</summary>
    public abstract ClassifierNetwork Copy(Device device);

    /// <summary>Parameters by name, in the module's order.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> NamedParameters() =>
        Module.named_parameters().Select(p => (p.name, p.parameter)).ToList();

    /// <summary>Buffers by name (batch-norm running statistics and the like).</summary>
    public IReadOnlyList<(string Name, Tensor Buffer)> NamedBuffers() =>
        Module.named_buffers().Select(b => (b.name, b.buffer)).ToList();

    /// <summary>Which part of the network a parameter belongs to.</summary>
    public virtual ParameterGroup GroupOf(string parameterName)
    {
        ArgumentNullException.ThrowIfNull(parameterName);
        return IsUnder(parameterName, ClassifierPrefix) ? ParameterGroup.Classifier : ParameterGroup.Backbone;
    }

    /// <summary>Elements of every parameter (the projection head of a built-in model included, as it is saved with it).</summary>
    public long ParameterCount() => NamedParameters().Sum(p => p.Parameter.numel());

    /// <summary>Device of the first parameter (CPU for a network without parameters).</summary>
    public Device Device => NamedParameters().Select(p => p.Parameter.device).FirstOrDefault() ?? torch.CPU;

    /// <summary>Moves parameters and buffers to <paramref name="device"/> in place.</summary>
    public abstract void MoveTo(Device device);

    /// <summary>Training mode (dropout on, batch norm updating its running statistics) or evaluation mode.</summary>
    public abstract void SetTraining(bool training);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters())
        {
            if (p.grad is { } g)
            {
                g.zero_();
            }
        }
    }

    /// <summary>True when <paramref name="name"/> is <paramref name="prefix"/> or starts with <c>prefix.</c>.</summary>
    public static bool IsUnder(string name, string prefix)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(prefix);
        return name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal);
    }

    /// <summary>Releases the native module.</summary>
    protected abstract void DisposeNetwork();

    /// <inheritdoc />
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeNetwork();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A built-in architecture (<see cref="AdaptiveModel"/>) behind the abstraction.</summary>
public sealed class BuiltInNetwork : ClassifierNetwork
{
    /// <summary>Wraps (and owns) a built-in model.</summary>
    public BuiltInNetwork(AdaptiveModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
    }

    /// <summary>The built-in module.</summary>
    public AdaptiveModel Model { get; }

    /// <inheritdoc />
    public override string Architecture => Model.Architecture;

    /// <inheritdoc />
    public override nn.Module Module => Model;

    /// <inheritdoc />
    public override string ClassifierPrefix => "classifier";

    /// <inheritdoc />
    public override bool HasEmbedding => true;

    /// <inheritdoc />
    public override Module<Tensor, Tensor>? Projection => Model.ProjectionModule;

    /// <summary>Backbone embedding size.</summary>
    public int EmbeddingDim => Model.EmbeddingDim;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Model.forward(input);

    /// <inheritdoc />
    public override Tensor Embed(Tensor input) => Model.Embed(input);

    /// <inheritdoc />
    public override (Tensor Logits, Tensor Embedding) ForwardWithEmbedding(Tensor input)
    {
        // forward(x) is Classify(Embed(x)): the same operations, so the same numbers, with the embedding kept.
        var embedding = Model.Embed(input);
        return (Model.Classify(embedding), embedding);
    }

    /// <inheritdoc />
    public override ParameterGroup GroupOf(string parameterName) => AdaptiveModel.GroupOf(parameterName);

    /// <inheritdoc />
    public override ClassifierNetwork Copy(Device device)
    {
        var copy = ModelFactory.Create(Model.Architecture, null, Model.Classes);
        copy.to(device);
        using (torch.no_grad())
        {
            var src = Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in copy.named_parameters()) p.copy_(src[name]);
        }
        return new BuiltInNetwork(copy);
    }

    /// <inheritdoc />
    public override void MoveTo(Device device) => Model.to(device);

    /// <inheritdoc />
    public override void SetTraining(bool training) => Model.train(training);

    /// <inheritdoc />
    protected override void DisposeNetwork() => Model.Dispose();
}

/// <summary>
/// The projection head of the mutual-information objective: the network's own when it has one, otherwise a
/// linear map created beside the model from a seed (the MIST code's head is a small MLP on the embedding; a
/// linear head is enough for the InfoNCE gradient and adds no trainable depth to a user's model).
/// </summary>
public sealed class ProjectionHead : IDisposable
{
    /// <summary>Output size of a created head (the built-in heads use 32 as well).</summary>
    public const int Dimension = 32;

    private ProjectionHead(Module<Tensor, Tensor> module, bool owned)
    {
        Module = module;
        IsOwned = owned;
    }

    /// <summary>The head.</summary>
    public Module<Tensor, Tensor> Module { get; }

    /// <summary>True when created beside the model: its parameters are not the model's and are never saved.</summary>
    public bool IsOwned { get; }

    /// <summary>Parameters of a created head (empty for the network's own head, whose parameters the network lists).</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> OwnParameters =>
        IsOwned ? Module.named_parameters().Select(p => ("projection-head." + p.name, p.parameter)).ToList() : [];

    /// <summary>
    /// The network's head, or a new linear head sized from one probe of <paramref name="sampleInput"/> through
    /// <see cref="ClassifierNetwork.Embed"/>, initialised from <paramref name="seed"/> without touching torch's global generator.
    /// </summary>
    public static ProjectionHead For(ClassifierNetwork network, Tensor sampleInput, int seed)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(sampleInput);
        if (network.Projection is { } own) return new ProjectionHead(own, owned: false);
        long dim;
        using (torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            dim = network.Embed(sampleInput.narrow(0, 0, 1).to(network.Device)).shape[^1];
        }
        var linear = Linear(dim, Dimension);
        using (torch.no_grad())
        using (var gen = new Generator((ulong)seed + 7_919UL))
        {
            // Kaiming-uniform bound as torch's Linear default, drawn from our own generator for reproducibility.
            var bound = 1.0 / Math.Sqrt(dim);
            linear.weight!.copy_(torch.rand(linear.weight.shape, generator: gen) * (2 * bound) - bound);
            linear.bias!.copy_(torch.rand(linear.bias.shape, generator: gen) * (2 * bound) - bound);
        }
        linear.to(network.Device);
        return new ProjectionHead(linear, owned: true);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (IsOwned) Module.Dispose();
    }
}
