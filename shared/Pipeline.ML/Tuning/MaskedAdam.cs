using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.ML.Tuning;

/// <summary>
/// Adam that keeps state only for the elements a mask lets change, and updates only the elements whose
/// Bernoulli(1 − dropRate) draw is 1 in a step ("lazy" Adam: moments and step counts of the other elements
/// are left as they were, so an element that is not drawn does not move at all, not even by momentum).
/// Every other element is never written, so it stays bit-identical.
/// </summary>
internal sealed class MaskedAdam : IDisposable
{
    private readonly List<Slot> slots = [];
    private readonly double lr;
    private readonly double dropRate;
    private readonly Generator generator;
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Eps = 1e-8;
    private long globalStep;

    private sealed class Slot
    {
        public required Parameter Parameter { get; init; }
        public Tensor? Index { get; init; }     // int64 flat indices (null = every element)
        public required long Count { get; init; }
        public required Tensor M { get; init; }
        public required Tensor V { get; init; }
        public Tensor? Steps { get; init; }     // per-element step counts (only with drop)
        public Tensor? Scale { get; init; }     // 0.9^k overlap penalty (only when some k > 0)
    }

    /// <param name="entries">parameter, CPU bool mask, optional CPU int16 selection counts.</param>
    public MaskedAdam(IEnumerable<(Parameter Parameter, Tensor Mask, Tensor? Counts)> entries, double lr, double dropRate,
        double overlapPenalty, Generator generator)
    {
        this.lr = lr;
        this.dropRate = dropRate;
        this.generator = generator;
        foreach (var (p, mask, counts) in entries)
        {
            var device = p.device;
            var flatMask = mask.flatten();
            var k = flatMask.sum().ToInt64();
            if (k == 0) continue;
            Tensor? index = null;
            if (k != p.numel()) index = flatMask.nonzero().flatten().to(device);
            Tensor? scale = null;
            if (counts is not null && counts.max().ToInt64() > 0)
            {
                var c = counts.flatten().to(ScalarType.Float32);
                var sel = index is null ? c : c.index_select(0, index.cpu());
                scale = torch.pow(overlapPenalty, sel).to(device);
            }
            slots.Add(new Slot
            {
                Parameter = p,
                Index = index,
                Count = k,
                M = torch.zeros(k, device: device),
                V = torch.zeros(k, device: device),
                Steps = dropRate > 0 ? torch.zeros(k, device: device) : null,
                Scale = scale,
            });
        }
    }

    /// <summary>Bytes of optimizer state: moments, step counts, indices and penalty scales.</summary>
    public long StateBytes => slots.Sum(s =>
        s.M.numel() * 4 + s.V.numel() * 4 + (s.Steps?.numel() ?? 0) * 4 + (s.Index?.numel() ?? 0) * 8 + (s.Scale?.numel() ?? 0) * 4);

    /// <summary>Elements that may change.</summary>
    public long TrainableElements => slots.Sum(s => s.Count);

    public IEnumerable<Parameter> Parameters => slots.Select(s => s.Parameter);

    public void Step()
    {
        globalStep++;
        using var noGrad = torch.no_grad();
        foreach (var s in slots)
        {
            using var scope = torch.NewDisposeScope();
            var grad = s.Parameter.grad;
            if (grad is null) continue;
            var flatP = s.Parameter.view(-1);
            var g = grad.reshape(-1);
            if (s.Index is not null) g = g.index_select(0, s.Index);
            if (dropRate <= 0)
            {
                s.M.mul_(Beta1).add_(g, alpha: 1 - Beta1);
                s.V.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
                var bc1 = 1 - Math.Pow(Beta1, globalStep);
                var bc2 = 1 - Math.Pow(Beta2, globalStep);
                var upd = (s.M / bc1) / ((s.V / bc2).sqrt() + Eps) * lr;
                if (s.Scale is not null) upd = upd * s.Scale;
                if (s.Index is null) flatP.sub_(upd);
                else flatP.index_add_(0, s.Index, upd, alpha: -1);
                continue;
            }
            // Bernoulli(1 - dropRate) per masked element, drawn on the CPU so the run is reproducible on any device.
            var keep = torch.rand(new long[] { s.Count }, generator: generator).ge(dropRate).to(s.M.device);
            var active = keep.nonzero().flatten();
            if (active.numel() == 0) continue;
            var ga = g.index_select(0, active);
            var m = s.M.index_select(0, active).mul_(Beta1).add_(ga, alpha: 1 - Beta1);
            var v = s.V.index_select(0, active).mul_(Beta2).addcmul_(ga, ga, value: 1 - Beta2);
            var t = s.Steps!.index_select(0, active).add_(1);
            s.M.index_copy_(0, active, m);
            s.V.index_copy_(0, active, v);
            s.Steps.index_copy_(0, active, t);
            var mhat = m / (1 - torch.pow(Beta1, t));
            var vhat = v / (1 - torch.pow(Beta2, t));
            var u = mhat / (vhat.sqrt() + Eps) * lr;
            if (s.Scale is not null) u = u * s.Scale.index_select(0, active);
            var target = s.Index is null ? active : s.Index.index_select(0, active);
            flatP.index_add_(0, target, u, alpha: -1);
        }
    }

    public void Dispose()
    {
        foreach (var s in slots)
        {
            s.Index?.Dispose();
            s.M.Dispose();
            s.V.Dispose();
            s.Steps?.Dispose();
            s.Scale?.Dispose();
        }
        slots.Clear();
    }
}
