using Pipeline.Hosting;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// One hop of a run: a message consumed by a service (<see cref="Input"/>) and the message its handler caused
/// (<see cref="Output"/>), timed from the output's hop stamp (<see cref="HopStamp"/>) and SentTime.
/// wait = consume start − input's SentTime (broker queue and prefetch); handler = output ready − consume start
/// (for the run owner: until its transition's transaction began); dispatch = output's SentTime − ready (the owner's
/// commit and outbox relay; a worker's publish after its handler). wait + handler + dispatch of consecutive hops add
/// up to the run's total, because each hop's input is the previous hop's output.
/// </summary>
public sealed record HopRecord(
    Guid RunId, string Input, string Output, string? Service, DateTimeOffset InputSent, DateTimeOffset ConsumeStart,
    DateTimeOffset Ready, DateTimeOffset Sent, double ComputeMs)
{
    public string Name => $"{Input} -> {Output}";

    public double WaitMs => (ConsumeStart - InputSent).TotalMilliseconds;

    public double HandlerMs => (Ready - ConsumeStart).TotalMilliseconds;

    public double DispatchMs => (Sent - Ready).TotalMilliseconds;

    /// <summary>A received message's hop, or null when it carries no stamp.</summary>
    public static HopRecord? From(Guid runId, string output, DateTimeOffset? sent, HopStamp? stamp)
    {
        if (stamp is null)
        {
            return null;
        }

        var ready = stamp.Ready ?? sent ?? stamp.ConsumeStart;
        return new HopRecord(runId, stamp.Input, output, stamp.Service, stamp.InputSent ?? stamp.ConsumeStart, stamp.ConsumeStart,
            ready, sent ?? ready, stamp.Compute.TotalMilliseconds);
    }
}

/// <summary>The hops of one run from its start command to ModelDeployed, and the owner's closing hop after it.</summary>
public sealed record RunTiming(Guid RunId, IReadOnlyList<HopRecord> Hops, HopRecord? Finish)
{
    /// <summary>Start command's SentTime to ModelDeployed's SentTime.</summary>
    public double TotalSeconds => (Hops[^1].Sent - Hops[0].InputSent).TotalSeconds;

    /// <summary>Time inside the ML library calls of the stage workers (ComputeClock).</summary>
    public double ComputeSeconds => Hops.Sum(h => h.ComputeMs) / 1000;

    public double OverheadSeconds => TotalSeconds - ComputeSeconds;
}

/// <summary>The hop chain of a one-candidate, auto-approved run, and the statistics over runs.</summary>
public static class PipelineHops
{
    /// <summary>Every hop from the operator's StartAdaptation to ModelDeployed, in order (docs/architecture.md, "Messages").</summary>
    public static readonly IReadOnlyList<(string Input, string Output)> Chain =
    [
        ("StartAdaptation", "ScoreSensitivity"), ("ScoreSensitivity", "SensitivityScored"),
        ("SensitivityScored", "TrainCandidate"), ("TrainCandidate", "CandidateTrained"),
        ("CandidateTrained", "EvaluateCandidate"), ("EvaluateCandidate", "CandidateEvaluated"),
        ("CandidateEvaluated", "DeployCandidate"), ("DeployCandidate", "ModelDeployed"),
    ];

    /// <summary>The owner's hop after deployment (the run ends); reported, not part of the total.</summary>
    public static readonly (string Input, string Output) Closing = ("ModelDeployed", "AdaptationRunFinished");

    /// <summary>The run's chain from the hops seen; the first of a pair counts (a re-sent work's second copy does not).</summary>
    /// <exception cref="InvalidDataException">a hop of the chain is missing.</exception>
    public static RunTiming Timeline(Guid runId, IEnumerable<HopRecord> seen)
    {
        var mine = seen.Where(h => h.RunId == runId).OrderBy(h => h.Sent).ToList();
        HopRecord? Find((string Input, string Output) pair) => mine.FirstOrDefault(h => h.Input == pair.Input && h.Output == pair.Output);
        var hops = new List<HopRecord>();
        foreach (var pair in Chain)
        {
            hops.Add(Find(pair) ?? throw new InvalidDataException(
                $"run {runId}: no {pair.Output} caused by {pair.Input} was seen (seen: {string.Join(", ", mine.Select(h => h.Name).Distinct())})"));
        }

        return new RunTiming(runId, hops, Find(Closing));
    }

    /// <summary>Linear interpolation between closest ranks (NumPy's default).</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("no values", nameof(values));
        }

        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + ((rank - low) * (sorted[high] - sorted[low]));
    }

    public static PipelineBenchResult Summarise(IReadOnlyList<RunTiming> runs, PipelineBenchSettings settings, double targetSeconds)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            throw new ArgumentException("no runs", nameof(runs));
        }

        var hops = new List<HopStats>();
        for (var i = 0; i < Chain.Count; i++)
        {
            hops.Add(Stats(runs.Select(r => r.Hops[i]).ToList(), inTotal: true));
        }

        if (runs.All(r => r.Finish is not null))
        {
            hops.Add(Stats(runs.Select(r => r.Finish!).ToList(), inTotal: false));
        }

        double P(Func<RunTiming, double> f, double p) => Round(Percentile(runs.Select(f).ToList(), p), 3);
        double Parts(Func<HopRecord, double> f) => Round(Percentile(runs.Select(r => r.Hops.Sum(f)).ToList(), 50), 1);
        var overheadP95 = P(r => r.OverheadSeconds, 95);
        return new PipelineBenchResult
        {
            Runs = runs.Count, Hops = hops,
            TotalP50S = P(r => r.TotalSeconds, 50), TotalP95S = P(r => r.TotalSeconds, 95),
            ComputeP50S = P(r => r.ComputeSeconds, 50), ComputeP95S = P(r => r.ComputeSeconds, 95),
            OverheadP50S = P(r => r.OverheadSeconds, 50), OverheadP95S = overheadP95,
            OverheadPartsP50Ms = new OverheadParts
            {
                QueueWait = Parts(h => h.WaitMs), HandlerOutsideCompute = Parts(h => h.HandlerMs - h.ComputeMs), Dispatch = Parts(h => h.DispatchMs),
            },
            TargetOverheadP95S = targetSeconds, TargetMet = overheadP95 < targetSeconds,
            PerRun = runs.Select(r => new PipelineBenchRun
            {
                RunId = r.RunId, TotalS = Round(r.TotalSeconds, 3), ComputeS = Round(r.ComputeSeconds, 3), OverheadS = Round(r.OverheadSeconds, 3),
                Hops = r.Hops.Select(h => new PipelineBenchRunHop
                {
                    Hop = h.Name, WaitMs = Round(h.WaitMs, 1), HandlerMs = Round(h.HandlerMs, 1), DispatchMs = Round(h.DispatchMs, 1),
                    ComputeMs = Round(h.ComputeMs, 1),
                }).ToList(),
            }).ToList(),
            Settings = settings,
        };
    }

    private static HopStats Stats(IReadOnlyList<HopRecord> hops, bool inTotal)
    {
        double P(Func<HopRecord, double> f, double p) => Round(Percentile(hops.Select(f).ToList(), p), 1);
        return new HopStats
        {
            Hop = hops[0].Name, Service = hops[0].Service, InTotal = inTotal,
            WaitP50Ms = P(h => h.WaitMs, 50), WaitP95Ms = P(h => h.WaitMs, 95),
            HandlerP50Ms = P(h => h.HandlerMs, 50), HandlerP95Ms = P(h => h.HandlerMs, 95),
            DispatchP50Ms = P(h => h.DispatchMs, 50), DispatchP95Ms = P(h => h.DispatchMs, 95),
            ComputeP50Ms = P(h => h.ComputeMs, 50), ComputeP95Ms = P(h => h.ComputeMs, 95),
        };
    }

    private static double Round(double v, int digits) => Math.Round(v, digits, MidpointRounding.AwayFromZero);
}
