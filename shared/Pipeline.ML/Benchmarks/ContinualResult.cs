using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.ML.Benchmarks;

#pragma warning disable CS1591
/// <summary>One method's row of <c>bench continual</c>.</summary>
public sealed record ContinualMethodResult
{
    [JsonPropertyName("method")] public required string Method { get; init; }
    [JsonPropertyName("acc_matrix")] public List<double[]> AccMatrix { get; init; } = [];
    [JsonPropertyName("avg_acc")] public double AvgAcc { get; init; }
    [JsonPropertyName("forgetting")] public double Forgetting { get; init; }
    [JsonPropertyName("max_forgetting")] public double MaxForgetting { get; init; }
    [JsonPropertyName("bwt")] public double Bwt { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
    [JsonPropertyName("sample_passes")] public long SamplePasses { get; init; }
    [JsonPropertyName("selected_fraction")] public double SelectedFraction { get; init; }
    [JsonPropertyName("updated_fraction_per_step")] public double UpdatedFractionPerStep { get; init; }
    [JsonPropertyName("optimizer_state_bytes")] public long OptimizerStateBytes { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("steps")] public long Steps { get; init; }
    [JsonPropertyName("replay")] public int Replay { get; init; }
    [JsonPropertyName("details")] public List<string> Details { get; init; } = [];
}

public sealed record ContinualBaseResult
{
    [JsonPropertyName("acc")] public double[] Acc { get; init; } = [];
    [JsonPropertyName("from_cache")] public bool FromCache { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
}

/// <summary>The JSON of <c>bench continual</c> (contract in docs/architecture.md; extra fields beyond it).</summary>
public sealed record ContinualBenchmarkResult
{
    [JsonPropertyName("dataset")] public string Dataset { get; init; } = "fashion-mnist";
    [JsonPropertyName("sequence")] public List<string> Sequence { get; init; } = [];
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("budget")] public required string Budget { get; init; }
    [JsonPropertyName("labels_per_regime")] public int LabelsPerRegime { get; init; }
    [JsonPropertyName("model")] public required BenchmarkModelInfo Model { get; init; }
    [JsonPropertyName("base")] public required ContinualBaseResult Base { get; init; }
    [JsonPropertyName("results")] public List<ContinualMethodResult> Results { get; init; } = [];
    [JsonPropertyName("protocol")] public required ContinualBudget Protocol { get; init; }
    [JsonPropertyName("replay")] public int Replay { get; init; }
    [JsonPropertyName("select_rate")] public double? SelectRate { get; init; }
    [JsonPropertyName("replay_fraction")] public double ReplayFraction { get; init; }

    /// <summary>Reference rows the services' replay joined to each regime's rows (null: no such replay).</summary>
    [JsonPropertyName("replay_rows")] public int[]? ReplayRows { get; init; }

    /// <summary>For a user's model: retrain's sample passes counted from the model's own training recipe, not run (null: retrain ran, or nothing to count from).</summary>
    [JsonPropertyName("retrain_reference_passes")] public long? RetrainReferencePasses { get; init; }
    [JsonPropertyName("eval_sizes")] public int[] EvalSizes { get; init; } = [];
    [JsonPropertyName("total_seconds")] public double TotalSeconds { get; init; }
    [JsonPropertyName("processor_count")] public int ProcessorCount { get; init; } = Environment.ProcessorCount;
    [JsonPropertyName("load_average_start")] public string? LoadAverageStart { get; init; }
    [JsonPropertyName("load_average_end")] public string? LoadAverageEnd { get; set; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static ContinualBenchmarkResult FromJson(string json) =>
        JsonSerializer.Deserialize<ContinualBenchmarkResult>(json, JsonOptions) ?? throw new InvalidDataException("empty benchmark JSON");
}
#pragma warning restore CS1591

/// <summary>Markdown tables of one run or of several (mean and 95% bootstrap interval per method).</summary>
public static class ContinualReport
{
    /// <summary>One row per method of a single run.</summary>
    public static string Table(ContinualBenchmarkResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"sequence {string.Join(" → ", r.Sequence)}; seed {r.Seed}; budget {r.Budget}; base acc {string.Join(" / ", r.Base.Acc.Select(F3))}");
        sb.AppendLine("| method | avg_acc | forgetting | max_forgetting | bwt | last row (acc per regime) | train_s | sample_passes | selected | updated/step |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var m in r.Results)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Method} | {F3(m.AvgAcc)} | {F3(m.Forgetting)} | {F3(m.MaxForgetting)} | {F3(m.Bwt)} | {string.Join(" / ", m.AccMatrix[^1].Select(F3))} | {m.TrainSeconds:F1} | {m.SamplePasses:N0} | {m.SelectedFraction:F4} | {m.UpdatedFractionPerStep:F5} |");
        }
        return sb.ToString();
    }

    /// <summary>Mean [95% bootstrap interval] per method over runs (seeds × orders).</summary>
    public static string Summary(IReadOnlyList<ContinualBenchmarkResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var sb = new StringBuilder();
        var header = string.Join("; ", runs.Select(r => "seed " + r.Seed.ToString(CultureInfo.InvariantCulture) + " " + string.Join(",", r.Sequence.Skip(1))));
        sb.AppendLine(runs.Count.ToString(CultureInfo.InvariantCulture) + " runs: " + header);
        sb.AppendLine("| method | n | avg_acc | forgetting | max_forgetting | bwt | train_s | sample_passes | selected | updated/step |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        var methods = runs.SelectMany(r => r.Results.Select(m => m.Method)).Distinct().ToList();
        foreach (var method in methods)
        {
            var rows = runs.SelectMany(r => r.Results.Where(m => m.Method == method)).ToList();
            string Ci(Func<ContinualMethodResult, double> f, string fmt)
            {
                var (mean, lo, hi) = Bootstrap.MeanInterval(rows.Select(f).ToList(), 2000, 0);
                var c = CultureInfo.InvariantCulture;
                return mean.ToString(fmt, c) + " [" + lo.ToString(fmt, c) + ", " + hi.ToString(fmt, c) + "]";
            }
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {method} | {rows.Count} | {Ci(m => m.AvgAcc, "F3")} | {Ci(m => m.Forgetting, "F3")} | {Ci(m => m.MaxForgetting, "F3")} | {Ci(m => m.Bwt, "F3")} | {Ci(m => m.TrainSeconds, "F1")} | {rows.Average(m => (double)m.SamplePasses):N0} | {rows.Average(m => m.SelectedFraction):F4} | {rows.Average(m => m.UpdatedFractionPerStep):F5} |");
        }
        return sb.ToString();
    }

    private static string F3(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
}
