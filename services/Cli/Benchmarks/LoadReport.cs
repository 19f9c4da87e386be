using System.Runtime.InteropServices;

namespace Pipeline.Cli.Benchmarks;

/// <summary>The figures one run of <c>bench load</c> collected, before they are analysed.</summary>
internal sealed record LoadRunFigures
{
    public required LoadBenchmarkOptions Options { get; init; }

    public required double SendSeconds { get; init; }

    /// <summary>Each service's resident memory over the traffic and its tail (start, peak, end).</summary>
    public IReadOnlyDictionary<string, LoadMemory>? MemoryMb { get; init; }

    public required IReadOnlyList<SentBatch> Sent { get; init; }

    public required IReadOnlyList<Contracts.DriftWindowEvaluated> Windows { get; init; }

    public required long RejectedRows { get; init; }

    public required long UnsentRows { get; init; }

    public required long OpenWindowRows { get; init; }

    public required double ForwardMs { get; init; }

    public required double TailSeconds { get; init; }

    public required bool TailTimedOut { get; init; }

    public required CeilingResult Ceiling { get; init; }

    public required string? InferenceMetricsBefore { get; init; }

    public required string? InferenceMetricsAfter { get; init; }

    public required string? DriftMetricsBefore { get; init; }

    public required string? DriftMetricsAfter { get; init; }

    public required Dictionary<string, double?> CpuBefore { get; init; }

    public required Dictionary<string, double?> CpuAfter { get; init; }

    public required string? LoadAverageBefore { get; init; }

    public required string? LoadAverageAfter { get; init; }

    /// <summary>The device the model ran on, as ComputeDevice describes it.</summary>
    public required string Device { get; init; }
}

/// <summary><c>bench load</c>'s report: the figures of one run analysed into the result its JSON is written from.</summary>
internal static class LoadReport
{
    public static LoadBenchmarkResult Build(LoadRunFigures f)
    {
        var o = f.Options;
        var ceiling = f.Ceiling;
        var outcome = LoadAnalysis.Analyse(f.Sent, f.Windows);
        var serverMean = LoadAnalysis.HistogramMeanMs(f.InferenceMetricsBefore, f.InferenceMetricsAfter, "inference_request_duration_seconds", "endpoint=\"predict\",code=\"200\"");
        var ratio = ceiling.RowsPerSecond > 0 ? outcome.RowsPerSecond / ceiling.RowsPerSecond : 0;
        var modelBound = f.ForwardMs > 0 ? o.Batch * 1000.0 / f.ForwardMs : 0;
        return new LoadBenchmarkResult
        {
            Seconds = Math.Round(f.SendSeconds, 3), Protocol = o.Protocol.ToString().ToLowerInvariant(), RowsIn = outcome.RowsIn, RowsOut = outcome.RowsOut,
            RejectedRows = f.RejectedRows, UnsentRows = f.UnsentRows, OpenWindowRows = f.OpenWindowRows, ModelBoundRowsPerSecond = Math.Round(modelBound, 1),
            RowsPerSecond = Math.Round(outcome.RowsPerSecond, 1), CeilingRowsPerSecond = Math.Round(ceiling.RowsPerSecond, 1),
            P50Ms = R(outcome.P50Ms), P99Ms = R(outcome.P99Ms), MaxLagRows = outcome.MaxLagRows,
            PredictP50Ms = R(outcome.PredictP50Ms), PredictP99Ms = R(outcome.PredictP99Ms),
            Settings = new LoadSettings
            {
                Rate = o.Rate, Batch = o.Batch, Models = o.Models, WindowRows = o.WindowRows, RowsPerModel = o.RowsPerModel,
                Services = "processes", MaxInFlight = LoadTraffic.MaxInFlight, MicroBatchRows = o.MicroBatchRows, TorchThreads = o.TorchThreads,
            },
            Targets = new LoadTargets
            {
                RowsOutEqualsRowsIn = outcome.RowsOut + f.OpenWindowRows == outcome.RowsIn && outcome.RowsDuplicated == 0 && outcome.RowsIn > 0,
                ThroughputToModelBound = modelBound > 0 ? Math.Round(outcome.RowsPerSecond / modelBound, 4) : 0,
                ThroughputToCeiling = Math.Round(ratio, 4), AtLeastHalfTheCeiling = ratio >= 0.5,
            },
            Counts = new LoadCounts
            {
                Requests = outcome.Requests, FailedRequests = outcome.FailedRequests, FirstFailure = outcome.FirstFailure, Windows = outcome.Windows,
                RowsDuplicated = outcome.RowsDuplicated, BatchesIncomplete = outcome.BatchesIncomplete, TailSeconds = Math.Round(f.TailSeconds, 2), TailTimedOut = f.TailTimedOut,
            },
            Stages = new LoadStages
            {
                PredictClientMeanMs = R(outcome.PredictMeanMs), PredictServerMeanMs = R(serverMean), ForwardP50Ms = Math.Round(f.ForwardMs, 3),
                PredictToForward = outcome.PredictP50Ms is { } p && f.ForwardMs > 0 ? Math.Round(p / f.ForwardMs, 2) : null,
                PredictServerOverheadMeanMs = R(serverMean - f.ForwardMs),
                PredictStagesMeanMs = PredictStages(f),
                DriftConsumeMeanMs = R(LoadAnalysis.HistogramMeanMs(f.DriftMetricsBefore, f.DriftMetricsAfter, "pipeline_consume_duration_seconds", "message_type=\"ObservationsIngested\"")),
                WindowFillP50Ms = R(outcome.WindowFillP50Ms), WindowFillP99Ms = R(outcome.WindowFillP99Ms),
                WindowCloseP50Ms = R(outcome.WindowCloseP50Ms), WindowCloseP99Ms = R(outcome.WindowCloseP99Ms),
                CpuSeconds = f.CpuAfter.ToDictionary(kv => kv.Key, kv => kv.Value - f.CpuBefore.GetValueOrDefault(kv.Key) is { } d ? Math.Round(d, 2) : (double?)null),
                MemoryMb = f.MemoryMb,
            },
            Ceiling = ceiling with { RowsPerSecond = Math.Round(ceiling.RowsPerSecond, 1), Seconds = Math.Round(ceiling.Seconds, 3) },
            Machine = new LoadMachine
            {
                MachineName = Environment.MachineName, ProcessorCount = Environment.ProcessorCount, LoadAverageBefore = f.LoadAverageBefore, LoadAverageAfter = f.LoadAverageAfter,
                Os = RuntimeInformation.OSDescription, Runtime = RuntimeInformation.FrameworkDescription,
                Device = f.Device, Broker = $"{o.Broker.Host}:{o.Broker.Port}{o.Broker.AbsolutePath}",
            },
        };
    }

    /// <summary>Inference's mean per stage over the run (inference_request_stage_seconds); null when none was observed.</summary>
    private static Dictionary<string, double?>? PredictStages(LoadRunFigures f)
    {
        string[] stages = ["read", "validate", "ledger", "forward", "store", "publish"];
        var means = stages.ToDictionary(s => s, s => R(LoadAnalysis.HistogramMeanMs(
            f.InferenceMetricsBefore, f.InferenceMetricsAfter, "inference_request_stage_seconds", $"stage=\"{s}\"")));
        return means.Values.Any(v => v is not null) ? means : null;
    }

    private static double? R(double? v) => v is { } x ? Math.Round(x, 2) : null;
}
