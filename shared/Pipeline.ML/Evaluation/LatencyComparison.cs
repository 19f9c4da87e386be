using System.Diagnostics;
using MathNet.Numerics.Distributions;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Evaluation;

/// <summary>
/// Candidate's latency relative to production's, from paired measurements: each pair times one batch through both
/// models back to back (order alternating), so load on the machine hits both alike; the increase is
/// exp(mean log ratio) − 1 with a Student-t interval on the mean log ratio.
/// </summary>
public sealed record LatencyComparison(double MsBefore, double MsAfter, double Increase, double Lower, double Upper, int Pairs, double Confidence)
{
    /// <summary>Measures <paramref name="pairs"/> pairs after <paramref name="warmup"/> unmeasured ones.</summary>
    public static LatencyComparison Measure(ModelBundle production, ModelBundle candidate, int batchSize = 64, int pairs = 30, int warmup = 3, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(production);
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentOutOfRangeException.ThrowIfLessThan(pairs, 2);
        production.Model.SetTraining(false);
        candidate.Model.SetTraining(false);
        using var noGrad = torch.no_grad();
        using var gen = new Generator(0);
        var shape = new long[] { batchSize }.Concat(production.Info.InputShape.Select(d => (long)d)).ToArray();
        using var x = torch.rand(shape, generator: gen);
        using var xp = x.to(production.Device);
        using var xc = x.to(candidate.Device);
        var before = new double[pairs];
        var after = new double[pairs];
        for (var i = 0; i < warmup + pairs; i++)
        {
            double a, b;
            if (i % 2 == 0)
            {
                a = Time(production, xp);
                b = Time(candidate, xc);
            }
            else
            {
                b = Time(candidate, xc);
                a = Time(production, xp);
            }
            if (i < warmup) continue;
            before[i - warmup] = a;
            after[i - warmup] = b;
        }
        return FromPairs(before, after, confidence);
    }

    /// <summary>The comparison of measured pairs (ms per batch).</summary>
    public static LatencyComparison FromPairs(IReadOnlyList<double> before, IReadOnlyList<double> after, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.Count != after.Count || before.Count < 2) throw new ArgumentException("need at least 2 pairs of equal count");
        var logs = before.Zip(after, (a, b) => Math.Log(Math.Max(b, 1e-6) / Math.Max(a, 1e-6))).ToArray();
        var n = logs.Length;
        var mean = logs.Average();
        var sd = Math.Sqrt(logs.Sum(l => (l - mean) * (l - mean)) / (n - 1));
        var t = StudentT.InvCDF(0, 1, n - 1, 1 - (1 - confidence) / 2);
        var half = t * sd / Math.Sqrt(n);
        return new LatencyComparison(Median(before), Median(after), Math.Exp(mean) - 1, Math.Exp(mean - half) - 1, Math.Exp(mean + half) - 1, n, confidence);
    }

    private static double Time(ModelBundle model, Tensor x)
    {
        var sw = Stopwatch.StartNew();
        using (var y = model.Forward(x))
        {
            if (x.device.type == DeviceType.CUDA) torch.cuda.synchronize();
            _ = y.shape;
        }
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(IReadOnlyList<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>
/// What decides a model's compute cost: its architecture, the names and shapes of its parameters and buffers, and a
/// readout that serves (its kind and tensor shapes). Two models with the same signature run the same operations on
/// the same shapes, so their latency is the same by construction and is not worth judging.
/// </summary>
public static class ComputeSignature
{
    /// <summary>What differs between the two models' compute, or an empty list when nothing does.</summary>
    public static IReadOnlyList<string> Differences(ModelBundle production, ModelBundle candidate)
    {
        ArgumentNullException.ThrowIfNull(production);
        ArgumentNullException.ThrowIfNull(candidate);
        var d = new List<string>();
        if (production.Info.Architecture != candidate.Info.Architecture)
            d.Add($"architecture {production.Info.Architecture} → {candidate.Info.Architecture}");
        var a = Shapes(production);
        var b = Shapes(candidate);
        foreach (var name in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            a.TryGetValue(name, out var sa);
            b.TryGetValue(name, out var sb);
            if (sa != sb) d.Add($"{name} {sa ?? "absent"} → {sb ?? "absent"}");
        }
        var ra = Readout(production);
        var rb = Readout(candidate);
        if (ra != rb) d.Add($"serving readout {ra ?? "none"} → {rb ?? "none"}");
        return d;
    }

    private static Dictionary<string, string> Shapes(ModelBundle m)
    {
        var s = m.Model.NamedParameters().ToDictionary(p => "param " + p.Name, p => Shape(p.Parameter.shape), StringComparer.Ordinal);
        foreach (var (name, buffer) in m.Model.NamedBuffers()) s["buffer " + name] = Shape(buffer.shape);
        return s;
    }

    private static string? Readout(ModelBundle m)
    {
        if (!m.ServesReadout || m.Readout is not { } r) return null;
        var state = r.State();
        return r.Kind + " " + string.Join(" ", state.Tensors.Select(t => t.Name + Shape(t.Tensor.shape)));
    }

    private static string Shape(long[] shape) => "[" + string.Join("×", shape) + "]";
}
