using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Cli.Benchmarks;

// The JSON contract of bench detect (docs/architecture.md; extra fields are allowed).
#pragma warning disable CS1591
public sealed record DetectBenchmarkResult
{
    [JsonPropertyName("dataset")] public string Dataset { get; init; } = "fashion-mnist";
    [JsonPropertyName("model")] public string Model { get; init; } = "cnn-small";
    [JsonPropertyName("seeds")] public int Seeds { get; init; }
    [JsonPropertyName("first_seed")] public int FirstSeed { get; init; } = 1;
    /// <summary>The product's estimator and its cross-checks (TriggerOptions' defaults).</summary>
    [JsonPropertyName("estimator")] public string Estimator { get; init; } = "";
    [JsonPropertyName("cross_check")] public List<string> CrossCheck { get; init; } = [];
    [JsonPropertyName("window_rows")] public int WindowRows { get; init; }
    [JsonPropertyName("min_accuracy_drop")] public double MinAccuracyDrop { get; init; }
    [JsonPropertyName("calibration")] public List<CalibrationResult> Calibration { get; init; } = [];
    [JsonPropertyName("clean")] public required CleanResult Clean { get; init; }
    /// <summary>The tabular stream's clean windows (generated rows, over-confident MLP).</summary>
    [JsonPropertyName("tabular_clean")] public CleanResult? TabularClean { get; init; }
    [JsonPropertyName("shifts")] public List<ShiftResult> Shifts { get; init; } = [];
    [JsonPropertyName("targets")] public required Targets Targets { get; init; }
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
    [JsonPropertyName("machine")] public string Machine { get; init; } = "";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

public sealed record CalibrationResult
{
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("stream")] public string Stream { get; init; } = "fashion-mnist";
    [JsonPropertyName("temperature")] public double Temperature { get; init; }
    [JsonPropertyName("rows")] public int Rows { get; init; }
    [JsonPropertyName("reference_accuracy")] public double ReferenceAccuracy { get; init; }
    [JsonPropertyName("reference_estimated_accuracy")] public double ReferenceEstimatedAccuracy { get; init; }
    [JsonPropertyName("mean_confidence")] public double MeanConfidence { get; init; }
    [JsonPropertyName("ece_before")] public double EceBefore { get; init; }
    [JsonPropertyName("ece_after")] public double EceAfter { get; init; }
}

public sealed record CleanResult
{
    [JsonPropertyName("windows")] public int Windows { get; init; }
    [JsonPropertyName("false_alarms")] public int FalseAlarms { get; init; }
    [JsonPropertyName("runs")] public int Runs { get; init; }
    [JsonPropertyName("rows")] public int Rows { get; init; }
    [JsonPropertyName("drifted_windows")] public int DriftedWindows { get; init; }
    [JsonPropertyName("true_accuracy")] public double TrueAccuracy { get; init; }
    [JsonPropertyName("estimated_accuracy")] public double EstimatedAccuracy { get; init; }
    [JsonPropertyName("pool_accuracy")] public double PoolAccuracy { get; init; }
    /// <summary>Every estimator on 16 windows of clean traffic (seed runs: the last seed's).</summary>
    [JsonPropertyName("estimators")] public List<EstimatorError> Estimators { get; init; } = [];
    /// <summary>Per seed.</summary>
    [JsonPropertyName("per_seed")] public List<CleanResult> PerSeed { get; init; } = [];

    /// <summary>Seeds summed (accuracies row-weighted).</summary>
    public CleanResult Add(CleanResult o)
    {
        int rows = Rows + o.Rows;
        double W(double a, double b) => rows == 0 ? 0 : (a * Rows + b * o.Rows) / rows;
        return new CleanResult
        {
            Windows = Windows + o.Windows, FalseAlarms = FalseAlarms + o.FalseAlarms, Runs = Runs + o.Runs, Rows = rows,
            DriftedWindows = DriftedWindows + o.DriftedWindows, TrueAccuracy = W(TrueAccuracy, o.TrueAccuracy),
            EstimatedAccuracy = W(EstimatedAccuracy, o.EstimatedAccuracy), PoolAccuracy = W(PoolAccuracy, o.PoolAccuracy),
            Estimators = o.Estimators, PerSeed = [.. PerSeed, o with { PerSeed = [] }],
        };
    }
}

public sealed record ShiftResult
{
    [JsonPropertyName("scenario")] public required string Scenario { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; }
    /// <summary>Clean traffic accuracy minus shifted traffic accuracy (whole pools; gradual: at full severity).</summary>
    [JsonPropertyName("accuracy_drop")] public double AccuracyDrop { get; init; }
    /// <summary>What CBPE says the drop is: the estimator on the reference minus on the shifted traffic.</summary>
    [JsonPropertyName("estimated_drop")] public double EstimatedDrop { get; init; }
    [JsonPropertyName("detected")] public bool Detected { get; init; }
    /// <summary>Rows from the onset to the end of the window that confirmed drift (null: never).</summary>
    [JsonPropertyName("delay_rows")] public int? DelayRows { get; init; }
    [JsonPropertyName("run_started")] public bool RunStarted { get; init; }
    [JsonPropertyName("run_delay_rows")] public int? RunDelayRows { get; init; }
    /// <summary>Gradual drift: rows from the ramp's start to the first window costing 3 points or more.</summary>
    [JsonPropertyName("harm_onset_rows")] public int? HarmOnsetRows { get; init; }
    [JsonPropertyName("true_accuracy")] public double TrueAccuracy { get; init; }
    [JsonPropertyName("estimated_accuracy")] public double EstimatedAccuracy { get; init; }
    [JsonPropertyName("estimation_error")] public double EstimationError => EstimatedAccuracy - TrueAccuracy;
    [JsonPropertyName("rows_streamed")] public int RowsStreamed { get; init; }
    [JsonPropertyName("stream_true_accuracy")] public double StreamTrueAccuracy { get; init; }
    [JsonPropertyName("stream_estimated_accuracy")] public double StreamEstimatedAccuracy { get; init; }
    /// <summary>The pooled estimate the last decision saw.</summary>
    [JsonPropertyName("decision_estimated_drop")] public double? DecisionEstimatedDrop { get; init; }
    [JsonPropertyName("decision")] public required string Decision { get; init; }
    [JsonPropertyName("reason")] public required string Reason { get; init; }
    /// <summary>One character per window after the onset: '.' no drift, 'p' drift pending, 'w' without harm, 'H' with harm (run), 'u' harm unknown (no calibration), 'L' labels needed (estimate unsure), 'l' awaiting labels, 'r' too few rows.</summary>
    [JsonPropertyName("trace")] public string Trace { get; init; } = "";
    /// <summary>A run during the clean lead-in (a false alarm before the onset).</summary>
    [JsonPropertyName("lead_run")] public bool LeadRun { get; init; }
    /// <summary>Rows from the onset to the end of the first window that said "drift, harm unknown: labels needed" (null: none).</summary>
    [JsonPropertyName("labels_needed_rows")] public int? LabelsNeededRows { get; init; }
    /// <summary>Every estimator on 8 windows of this traffic (gradual: the whole ramp and hold), against those rows' true accuracy.</summary>
    [JsonPropertyName("estimators")] public List<EstimatorError> Estimators { get; init; } = [];
}

/// <summary>The targets, checked on the numbers above; misses are listed, never hidden.</summary>
public sealed record Targets
{
    [JsonPropertyName("clean_no_runs")] public bool CleanNoRuns { get; init; }
    [JsonPropertyName("harmful_run_within_2_windows")] public List<string> HarmfulMisses { get; init; } = [];
    [JsonPropertyName("harmless_no_run")] public List<string> HarmlessMisses { get; init; } = [];
    [JsonPropertyName("estimate_within_2_points")] public List<string> EstimateMisses { get; init; } = [];
    [JsonPropertyName("met")] public bool Met { get; init; }

    public static Targets Evaluate(CleanResult clean, IReadOnlyList<ShiftResult> shifts, int windowRows)
    {
        static string P(double v) => (v * 100).ToString("0.0", CultureInfo.InvariantCulture);
        var harmful = new List<string>();
        var harmless = new List<string>();
        var estimate = new List<string>();
        foreach (var s in shifts)
        {
            string id = $"{s.Scenario} (seed {s.Seed})";
            int onset = s.HarmOnsetRows ?? 0;
            bool harmfulShift = s.AccuracyDrop >= 0.03;
            bool acted = (s.RunStarted && s.RunDelayRows - onset <= 2 * windowRows) || (s.LabelsNeededRows is { } l && l - onset <= 2 * windowRows);
            if (harmfulShift && !acted)
                harmful.Add($"{id}: drop {P(s.AccuracyDrop)} pts, " + (s.RunStarted ? $"run after {s.RunDelayRows - onset} rows" : "no run")
                    + (s.LabelsNeededRows is { } ln ? $", labels needed after {ln - onset} rows" : ""));
            if (s.AccuracyDrop < 0.01 && s.RunStarted) harmless.Add($"{id}: drop {P(s.AccuracyDrop)} pts, run after {s.RunDelayRows} rows");
            if (Math.Abs(s.EstimationError) > 0.02)
                estimate.Add($"{id}: estimated {P(s.EstimatedAccuracy)} % vs true {P(s.TrueAccuracy)} %");
        }
        if (Math.Abs(clean.EstimatedAccuracy - clean.TrueAccuracy) > 0.02)
            estimate.Add($"clean: estimated {P(clean.EstimatedAccuracy)} % vs true {P(clean.TrueAccuracy)} %");
        bool cleanOk = clean.Runs == 0 && clean.Windows >= 500;
        return new Targets
        {
            CleanNoRuns = cleanOk, HarmfulMisses = harmful, HarmlessMisses = harmless, EstimateMisses = estimate,
            Met = cleanOk && harmful.Count == 0 && harmless.Count == 0 && estimate.Count == 0,
        };
    }
}
#pragma warning restore CS1591
