using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// <c>bench pipeline</c>'s JSON: the fields (runs, hops with wait and handler p50/p95, overhead p50/p95)
/// and more (dispatch and compute per hop, totals, the overhead's parts, each run, the settings).
/// </summary>
public sealed record PipelineBenchResult
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public int Runs { get; init; }

    /// <summary>What started each run.</summary>
    public string Trigger { get; init; } = "StartAdaptation";

    public IReadOnlyList<HopStats> Hops { get; init; } = [];

    public double OverheadP50S { get; init; }

    public double OverheadP95S { get; init; }

    public double TotalP50S { get; init; }

    public double TotalP95S { get; init; }

    public double ComputeP50S { get; init; }

    public double ComputeP95S { get; init; }

    /// <summary>Median over runs of each part of the overhead summed over the run's hops.</summary>
    public OverheadParts OverheadPartsP50Ms { get; init; } = new();

    public double TargetOverheadP95S { get; init; }

    public bool TargetMet { get; init; }

    public IReadOnlyList<PipelineBenchRun> PerRun { get; init; } = [];

    public PipelineBenchSettings Settings { get; init; } = new();

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

public sealed record HopStats
{
    public required string Hop { get; init; }

    public string? Service { get; init; }

    /// <summary>False for the owner's closing hop after ModelDeployed (not part of the total).</summary>
    public bool InTotal { get; init; }

    public double WaitP50Ms { get; init; }

    public double WaitP95Ms { get; init; }

    public double HandlerP50Ms { get; init; }

    public double HandlerP95Ms { get; init; }

    public double DispatchP50Ms { get; init; }

    public double DispatchP95Ms { get; init; }

    public double ComputeP50Ms { get; init; }

    public double ComputeP95Ms { get; init; }
}

public sealed record OverheadParts
{
    public double QueueWait { get; init; }

    public double HandlerOutsideCompute { get; init; }

    public double Dispatch { get; init; }
}

public sealed record PipelineBenchRun
{
    public Guid RunId { get; init; }

    public double TotalS { get; init; }

    public double ComputeS { get; init; }

    public double OverheadS { get; init; }

    /// <summary>This run's hops in chain order (the first run after start against the later ones shows what is cold).</summary>
    public IReadOnlyList<PipelineBenchRunHop> Hops { get; init; } = [];
}

/// <summary>One hop of one run, in milliseconds.</summary>
public sealed record PipelineBenchRunHop
{
    public required string Hop { get; init; }

    public double WaitMs { get; init; }

    public double HandlerMs { get; init; }

    public double DispatchMs { get; init; }

    public double ComputeMs { get; init; }
}

/// <summary>What the bench ran with, for the record.</summary>
public sealed record PipelineBenchSettings
{
    public int LabelledRowsPerRun { get; init; }

    public string Tuning { get; init; } = "";

    public string Gate { get; init; } = "";

    public int ProcessorCount { get; init; } = Environment.ProcessorCount;

    /// <summary>1-minute load average when the bench started (Linux), the machine's other work.</summary>
    public double? LoadAverage { get; init; }

    public Dictionary<string, string> ServiceSettings { get; init; } = [];
}
