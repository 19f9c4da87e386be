using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// <c>bench load</c>'s JSON: the fields first (seconds … predict_p99_ms), then what explains them. Latencies
/// are from the API's acceptance of a row (ObservationsIngested's timestamp, carried as AcceptedAt) to the evaluation of
/// the drift window the row was new in, over rows; predict_* is the API's own latency as the client sees it, over requests.
/// </summary>
public sealed record LoadBenchmarkResult
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Seconds the traffic took to send: at most --seconds plus the last answers (no request leaves after --seconds).</summary>
    public required double Seconds { get; init; }
    /// <summary>json, binary or v2 (--protocol).</summary>
    public required string Protocol { get; init; }
    public required long RowsIn { get; init; }
    public required long RowsOut { get; init; }
    /// <summary>Rows of requests the API refused with 429 or 503 (told to retry later); not in rows_in.</summary>
    public required long RejectedRows { get; init; }
    /// <summary>Planned rows not sent because --seconds had passed (the API fell behind the rate).</summary>
    public required long UnsentRows { get; init; }
    /// <summary>Accepted rows in each model's last, unfilled drift window: they wait for more rows and are not in rows_out.</summary>
    public required long OpenWindowRows { get; init; }
    /// <summary>The bare forward pass at --batch rows, in this process on the same machine in the same run: batch / forward_p50.</summary>
    public required double ModelBoundRowsPerSecond { get; init; }
    /// <summary>Rows out per second, from the first request to the last row's window evaluation (tail included).</summary>
    public required double RowsPerSecond { get; init; }
    public required double CeilingRowsPerSecond { get; init; }
    public required double? P50Ms { get; init; }
    public required double? P99Ms { get; init; }
    public required long MaxLagRows { get; init; }
    public required double? PredictP50Ms { get; init; }
    public required double? PredictP99Ms { get; init; }

    public required LoadSettings Settings { get; init; }
    public required LoadTargets Targets { get; init; }
    public required LoadCounts Counts { get; init; }
    /// <summary>Where the time goes, stage by stage.</summary>
    public required LoadStages Stages { get; init; }
    public required CeilingResult Ceiling { get; init; }
    public required LoadMachine Machine { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

public sealed record LoadSettings
{
    public required int Rate { get; init; }
    public required int Batch { get; init; }
    public required int Models { get; init; }
    /// <summary>DriftDetection:WindowSize of the run (tumbling windows).</summary>
    public required int WindowRows { get; init; }
    /// <summary>Rows each model got: rate × seconds / models rounded down to whole windows, so every row closes a window.</summary>
    public required int RowsPerModel { get; init; }
    /// <summary>"processes": each service its own host process, as in production.</summary>
    public required string Services { get; init; }
    public required int MaxInFlight { get; init; }
    /// <summary>Inference:MicroBatchMaxRows of the run (0: micro-batching off, each request its own forward pass).</summary>
    public int MicroBatchRows { get; init; }
    /// <summary>Inference:TorchThreads of the run (0: libtorch's default, one per core).</summary>
    public int TorchThreads { get; init; }
}

public sealed record LoadTargets
{
    /// <summary>rows_out + open_window_rows == rows_in, and no row counted twice.</summary>
    public required bool RowsOutEqualsRowsIn { get; init; }
    /// <summary>rows_per_second / model_bound_rows_per_second (the target: at least 0.7 with binary rows).</summary>
    public required double ThroughputToModelBound { get; init; }
    /// <summary>rows_per_second / ceiling_rows_per_second.</summary>
    public required double ThroughputToCeiling { get; init; }
    public required bool AtLeastHalfTheCeiling { get; init; }
}

public sealed record LoadCounts
{
    public required int Requests { get; init; }
    public required int FailedRequests { get; init; }
    /// <summary>The first failure's status and text, when any failed.</summary>
    public required string? FirstFailure { get; init; }
    public required int Windows { get; init; }
    /// <summary>Rows reported in windows more than once (zero when every row is counted exactly once).</summary>
    public required long RowsDuplicated { get; init; }
    /// <summary>Accepted batches whose rows did not all reach a window before the tail bound.</summary>
    public required int BatchesIncomplete { get; init; }
    /// <summary>Seconds waited after the last request for the last windows.</summary>
    public required double TailSeconds { get; init; }
    public required bool TailTimedOut { get; init; }
}

public sealed record LoadStages
{
    /// <summary>Client round trip of POST /predict (HTTP, predict, artifact write, publish with confirm), mean.</summary>
    public required double? PredictClientMeanMs { get; init; }
    /// <summary>The same request inside the API (inference_request_duration_seconds), mean.</summary>
    public required double? PredictServerMeanMs { get; init; }
    /// <summary>The model's forward pass for one batch, measured bare in the bench process (median of 20).</summary>
    public required double ForwardP50Ms { get; init; }
    /// <summary>predict_p50_ms / forward_p50_ms.</summary>
    public required double? PredictToForward { get; init; }
    /// <summary>Server time not in the forward pass (validation, JSON, artifact write, publish with confirm), mean.</summary>
    public required double? PredictServerOverheadMeanMs { get; init; }
    /// <summary>
    /// Inference's own split of a served request (inference_request_stage_seconds), mean ms per stage: read, validate,
    /// ledger, forward, store, publish. Null when the service exposed no stages.
    /// </summary>
    public IReadOnlyDictionary<string, double?>? PredictStagesMeanMs { get; init; }
    /// <summary>DriftDetection's handler per batch (load the artifact, store the batch, embed, evaluate closing windows), mean.</summary>
    public required double? DriftConsumeMeanMs { get; init; }
    /// <summary>Rows waiting for their window to fill: from a row's acceptance to the acceptance of its window's last batch.</summary>
    public required double? WindowFillP50Ms { get; init; }
    public required double? WindowFillP99Ms { get; init; }
    /// <summary>From the acceptance of a window's last batch to the window's evaluation (queue, consume, evaluation).</summary>
    public required double? WindowCloseP50Ms { get; init; }
    public required double? WindowCloseP99Ms { get; init; }
    /// <summary>CPU seconds each process used during the traffic and its tail (the machine's cores are shared by all).</summary>
    public required IReadOnlyDictionary<string, double?> CpuSeconds { get; init; }
    /// <summary>Each service's resident memory over the traffic and its tail, sampled once a second (MiB: start, peak, end).</summary>
    public IReadOnlyDictionary<string, LoadMemory>? MemoryMb { get; init; }
}

public sealed record LoadMachine
{
    public required string MachineName { get; init; }
    public required int ProcessorCount { get; init; }
    /// <summary>/proc/loadavg (1, 5, 15 minutes) before the traffic and after the tail.</summary>
    public required string? LoadAverageBefore { get; init; }
    public required string? LoadAverageAfter { get; init; }
    public required string Os { get; init; }
    public required string Runtime { get; init; }
    /// <summary>Torch device of the bare forward pass (the inference host resolves "auto" the same way).</summary>
    public required string Device { get; init; }
    public required string Broker { get; init; }
}
