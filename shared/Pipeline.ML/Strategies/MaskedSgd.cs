using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>
/// SGD with momentum and weight decay (PyTorch's update: d = g + wd·θ; b = μ·b + d; θ −= lr·b) restricted to the
/// masked elements of each tensor, with MIST's per-step Bernoulli gradient drop and 0.9^k overlap scaling.
/// Elements outside the mask are never written. It is "lazy": an element whose draw is 0 keeps its value and its
/// momentum buffer in that step. (The published code zeroes the dropped gradients but lets PyTorch's momentum
/// and weight decay keep moving every element, inside the mask or not; that would break the bit-identity
/// guarantee outside the mask and would move every masked element in every step.)
/// </summary>
internal sealed class MaskedSgd : IDisposable
{
    private readonly List<Slot> slots = [];
    private readonly double keep;
    private readonly double momentum;
    private readonly double weightDecay;
    private readonly Generator generator;

    private sealed class Slot
    {
        public required Parameter Parameter { get; init; }
        public Tensor? Index { get; init; }
        public required long Count { get; init; }
        public required Tensor Buffer { get; init; }
        public Tensor? Scale { get; init; }
        public required double Lr { get; init; }
    }

    public MaskedSgd(double dropRate, double momentum, double weightDecay, Generator generator)
    {
        if (dropRate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(dropRate));
        keep = 1 - dropRate;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.generator = generator;
    }

    /// <summary>Adds a tensor: <paramref name="mask"/> (CPU bool, null = every element), optional per-element scale.</summary>
    public void Add(Parameter parameter, Tensor? mask, Tensor? scale, double lr)
    {
        var device = parameter.device;
        Tensor? index = null;
        var count = parameter.numel();
        if (mask is not null)
        {
            using var flat = mask.flatten();
            count = flat.sum().ToInt64();
            if (count == 0) return;
            if (count != parameter.numel())
            {
                using var nz = flat.nonzero().flatten();
                index = nz.to(device).DetachFromDisposeScope();
            }
        }
        Tensor? s = null;
        if (scale is not null)
        {
            using var flatScale = scale.flatten();
            using var cpuIndex = index?.cpu();
            s = (cpuIndex is null ? flatScale.clone() : flatScale.index_select(0, cpuIndex)).to(device).DetachFromDisposeScope();
        }
        slots.Add(new Slot
        {
            Parameter = parameter,
            Index = index,
            Count = count,
            Buffer = torch.zeros(count, device: device).DetachFromDisposeScope(),
            Scale = s,
            Lr = lr,
        });
    }

    /// <summary>Elements that may change.</summary>
    public long TrainableElements => slots.Sum(s => s.Count);

    /// <summary>Momentum buffers, indices and scales.</summary>
    public long StateBytes => slots.Sum(s => s.Buffer.numel() * 4 + (s.Index?.numel() ?? 0) * 8 + (s.Scale?.numel() ?? 0) * 4);

    public void Step()
    {
        using var noGrad = torch.no_grad();
        foreach (var s in slots)
        {
            using var scope = torch.NewDisposeScope();
            var grad = s.Parameter.grad;
            if (grad is null) continue;
            var flatP = s.Parameter.view(-1);
            var g = grad.reshape(-1);
            if (s.Index is not null) g = g.index_select(0, s.Index);
            // Bernoulli(keep) per masked element, drawn on the CPU so a seeded run is the same on every device.
            var draw = torch.rand(new long[] { s.Count }, generator: generator).lt(keep).to(s.Buffer.device);
            var active = draw.nonzero().flatten();
            if (active.numel() == 0) continue;
            var target = s.Index is null ? active : s.Index.index_select(0, active);
            var ga = g.index_select(0, active);
            if (s.Scale is not null) ga = ga * s.Scale.index_select(0, active);
            var d = weightDecay > 0 ? ga + flatP.index_select(0, target) * weightDecay : ga;
            var b = s.Buffer.index_select(0, active).mul_(momentum).add_(d);
            s.Buffer.index_copy_(0, active, b);
            flatP.index_add_(0, target, b, alpha: -s.Lr);
        }
    }

    public void Dispose()
    {
        foreach (var s in slots)
        {
            s.Index?.Dispose();
            s.Buffer.Dispose();
            s.Scale?.Dispose();
        }
        slots.Clear();
    }
}
