using System.CommandLine;
using System.Text.Json;
using Pipeline.Cli.Benchmarks;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Hosting;

namespace Pipeline.Integration.Tests;

/// <summary><c>bench load</c>: its arithmetic, its bad flags, and a short real run on the test broker.</summary>
public class LoadBenchmarkTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Percentiles_are_nearest_rank_and_weighted_by_rows()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).ToList();
        Assert.Equal(50, LoadMath.Percentile(values, 0.50));
        Assert.Equal(99, LoadMath.Percentile(values, 0.99));
        Assert.Equal(1, LoadMath.Percentile(values, 0));
        Assert.Equal(100, LoadMath.Percentile(values, 1));
        Assert.Equal(7, LoadMath.Percentile([7.0], 0.99));
        Assert.Null(LoadMath.Percentile(Array.Empty<double>(), 0.5));

        // 90 rows at 10 ms and 10 rows at 1000 ms: the median row waited 10 ms, the 95th 1000 ms.
        var rows = new List<(double, long)> { (1000, 10), (10, 90) };
        Assert.Equal(10, LoadMath.Percentile(rows, 0.50));
        Assert.Equal(10, LoadMath.Percentile(rows, 0.90));
        Assert.Equal(1000, LoadMath.Percentile(rows, 0.95));
        Assert.Null(LoadMath.Percentile(new List<(double, long)> { (5, 0) }, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadMath.Percentile(values, 1.5));
    }

    [Fact]
    public void Max_lag_is_the_largest_backlog_of_accepted_rows_not_yet_evaluated()
    {
        var accepted = new[] { (T0, 100L), (T0.AddSeconds(1), 100L), (T0.AddSeconds(2), 100L), (T0.AddSeconds(5), 100L) };
        var evaluated = new[] { (T0.AddSeconds(1.5), 150L), (T0.AddSeconds(3), 150L), (T0.AddSeconds(6), 100L) };
        // 100, 200, 50, 150, 0, 100, 0: the largest backlog is 200 rows.
        Assert.Equal(200, LoadMath.MaxLag(accepted, evaluated));
        // An evaluation at the same instant as an acceptance counts after it.
        Assert.Equal(100, LoadMath.MaxLag([(T0, 100L)], [(T0, 100L)]));
        Assert.Equal(0, LoadMath.MaxLag([], []));
    }

    [Fact]
    public void The_plan_gives_every_model_whole_windows_at_the_rate()
    {
        // 2000 rows/s for 3 s over 2 models with windows of 400: 3000 rows each, rounded down to 2800.
        Assert.Equal(2800, LoadMath.RowsPerModel(2000, 3, 2, 400));
        Assert.Equal(0, LoadMath.RowsPerModel(100, 1, 2, 500));
        var plan = LoadMath.Plan(2800, 300, 2, 2000);
        foreach (var m in new[] { 0, 1 })
        {
            var mine = plan.Where(p => p.Model == m).Select(p => p.Rows).ToList();
            Assert.Equal(2800, mine.Sum());
            Assert.Equal(10, mine.Count);
            Assert.Equal(100, mine[^1]); // 9 × 300 + 100
        }

        Assert.Equal(0, plan[0].Model);
        Assert.Equal(1, plan[1].Model);
        Assert.Equal(TimeSpan.Zero, plan[0].Due);
        Assert.Equal(TimeSpan.FromSeconds(300.0 / 2000), plan[1].Due);
        Assert.True(plan.Zip(plan.Skip(1)).All(p => p.First.Due <= p.Second.Due));
        // The last request leaves when all rows but its own took their share of the rate.
        Assert.Equal(TimeSpan.FromSeconds((5600.0 - 100) / 2000), plan[^1].Due);
    }

    private static SentBatch Sent(Guid id, int rows, double ms, double answeredAt) =>
        new(0, rows, id, 200, T0, T0.AddSeconds(answeredAt), ms, null);

    private static DriftWindowEvaluated Window(double at, params (Guid Id, int Rows, double? AcceptedAt)[] segments) => new()
    {
        ModelId = "m", ModelVersion = 1, WindowId = $"m-v1-w{at}", Rows = segments.Sum(s => s.Rows), DatasetDrift = false, ShareDrifted = 0,
        Status = "ok", Timestamp = T0.AddSeconds(at),
        Batches = segments.Select(s => new WindowBatchSegment
        {
            BatchId = s.Id, Rows = s.Rows, AcceptedAt = s.AcceptedAt is { } a ? T0.AddSeconds(a) : null,
        }).ToList(),
    };

    [Fact]
    public void Analysis_joins_requests_and_windows_batch_by_batch()
    {
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid(), stranger = Guid.NewGuid();
        var sent = new List<SentBatch>
        {
            Sent(a, 100, 20, 0.1), Sent(b, 100, 40, 1.1), Sent(c, 100, 60, 2.1),
            new(0, 100, null, 429, T0, T0.AddSeconds(3), 5, "too many"),
        };
        var windows = new List<DriftWindowEvaluated>
        {
            // a whole and half of b (accepted at 0 and 1 s) in a window evaluated at 1.5 s; a batch of another run is ignored.
            Window(1.5, (a, 100, 0), (b, 50, 1), (stranger, 70, 0)),
            // the rest of b and all of c (accepted at 2 s) at 3 s.
            Window(3, (b, 50, 1), (c, 100, 2)),
        };
        var o = LoadAnalysis.Analyse(sent, windows);
        Assert.Equal(300, o.RowsIn);
        Assert.Equal(300, o.RowsOut);
        Assert.Equal(0, o.RowsDuplicated);
        Assert.Equal(0, o.BatchesIncomplete);
        Assert.Equal(4, o.Requests);
        Assert.Equal(1, o.FailedRequests);
        Assert.Equal("HTTP 429: too many", o.FirstFailure);
        Assert.Equal(2, o.Windows);
        // Row latencies: 100 rows 1500 ms, 50 rows 500 ms, 50 rows 2000 ms, 100 rows 1000 ms.
        Assert.Equal(1000, o.P50Ms!.Value, 6);
        Assert.Equal(2000, o.P99Ms!.Value, 6);
        // Fill: a waited 1000 ms for b's acceptance; b and c's rows 0 or 1000 ms. Close: 500 ms then 1000 ms.
        Assert.Equal(1000, o.WindowFillP99Ms!.Value, 6);
        Assert.Equal(1000, o.WindowCloseP99Ms!.Value, 6);
        Assert.Equal(500, o.WindowCloseP50Ms!.Value, 6);
        Assert.Equal(40, o.PredictP50Ms);
        Assert.Equal(60, o.PredictP99Ms);
        // Backlog: 100 (0 s), 200 (1 s), 50 (1.5 s), 150 (2 s), 0 (3 s).
        Assert.Equal(200, o.MaxLagRows);
        Assert.Equal(100, o.RowsPerSecond, 6); // 300 rows from the first request (0 s) to the last window (3 s)

        // A row reported twice is a duplicate, not a second row out; a batch never reported is incomplete.
        var again = LoadAnalysis.Analyse(sent, [.. windows, Window(4, (c, 100, 2))]);
        Assert.Equal(300, again.RowsOut);
        Assert.Equal(100, again.RowsDuplicated);
        var missing = LoadAnalysis.Analyse(sent, [windows[0]]);
        Assert.Equal(150, missing.RowsOut);
        Assert.Equal(2, missing.BatchesIncomplete);
        Assert.Equal(200, missing.MaxLagRows);
    }

    [Fact]
    public void Histogram_means_come_from_the_services_prometheus_text()
    {
        const string text = """
            # HELP inference_request_duration_seconds Time to answer
            inference_request_duration_seconds_sum{endpoint="predict",code="200"} 3
            inference_request_duration_seconds_count{endpoint="predict",code="200"} 60
            inference_request_duration_seconds_sum{endpoint="predict",code="400"} 100
            inference_request_duration_seconds_count{endpoint="predict",code="400"} 1
            inference_request_duration_seconds_bucket{endpoint="predict",code="200",le="0.001"} 0
            """;
        const string predict = "endpoint=\"predict\",code=\"200\"";
        Assert.Equal(50, LoadAnalysis.HistogramMeanMs(null, text, "inference_request_duration_seconds", predict)!.Value, 6);
        // Between two scrapes: 40 more requests took 4 s more, 100 ms each (the warm-up before is left out).
        var later = text.Replace("} 3\n", "} 7\n", StringComparison.Ordinal).Replace("} 60\n", "} 100\n", StringComparison.Ordinal);
        Assert.Equal(100, LoadAnalysis.HistogramMeanMs(text, later, "inference_request_duration_seconds", predict)!.Value, 6);
        Assert.Null(LoadAnalysis.HistogramMeanMs(text, text, "inference_request_duration_seconds", predict));
        Assert.Null(LoadAnalysis.HistogramMeanMs(null, text, "pipeline_consume_duration_seconds", "message_type=\"ObservationsIngested\""));
        Assert.Null(LoadAnalysis.HistogramMeanMs(null, null, "x", "y"));
    }

    [Theory]
    [InlineData("--seconds", "0", "--seconds must be 1..3600")]
    [InlineData("--rate", "0", "--rate must be")]
    [InlineData("--batch", "5000", "--batch must be 1..4096")]
    [InlineData("--models", "0", "--models must be 1..16")]
    [InlineData("--window", "10", "--window must be")]
    [InlineData("--broker", "http://x", "is not an amqp:// URI")]
    [InlineData("--models", "16", "fewer than one drift window")]
    public async Task Bad_flags_are_one_line_and_exit_2_before_any_work(string flag, string value, string expected)
    {
        // Every check comes before the broker is touched (this one does not exist).
        var valid = new Dictionary<string, string> { ["--seconds"] = "2", ["--rate"] = "1000", ["--broker"] = "amqp://guest:guest@127.0.0.1:1/none" };
        valid[flag] = value;
        List<string> args = ["bench", "load", .. valid.SelectMany(kv => new[] { kv.Key, kv.Value })];

        var (code, err) = await RunAsync([.. args]);
        Assert.Equal(2, code);
        Assert.Contains(expected, err, StringComparison.Ordinal);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Missing_rate_or_an_unreachable_broker_is_one_line_and_a_non_zero_exit()
    {
        var (code, err) = await RunAsync(["bench", "load", "--seconds", "2"]);
        Assert.Equal(2, code);
        Assert.Contains("--rate", err, StringComparison.Ordinal);
        (code, err) = await RunAsync(["bench", "load", "--seconds", "2", "--rate", "1000", "--broker", "amqp://guest:guest@127.0.0.1:1/"]);
        Assert.Equal(2, code);
        Assert.Contains("cannot reach RabbitMQ at 127.0.0.1:1", err, StringComparison.Ordinal);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static async Task<(int Code, string Err)> RunAsync(string[] args)
    {
        var root = new RootCommand();
        var bench = new Command("bench") { BenchLoadCommand.Create() };
        root.Subcommands.Add(bench);
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (await CommandLineRunner.RunAsync(root, args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    /// <summary>
    /// A few seconds of real traffic: the three service hosts as processes on the test broker, two models, the issue's
    /// JSON, and every accepted row counted exactly once in a drift window; rows as raw binary and as v2 binary tensors.
    /// </summary>
    [Theory]
    [InlineData(LoadProtocol.Binary)]
    [InlineData(LoadProtocol.V2)]
    public async Task A_short_real_run_counts_every_row_once_and_writes_the_issue_json(LoadProtocol protocol)
    {
        var work = Directory.CreateTempSubdirectory("bench-load-").FullName;
        try
        {
            var options = new LoadBenchmarkOptions
            {
                Seconds = 3, Rate = 200, Batch = 40, Models = 2, WindowRows = 100, Tail = TimeSpan.FromSeconds(30),
                Broker = Broker.Uri, WorkDirectory = work, Protocol = protocol,
            };
            Assert.Null(options.Problem());
            var result = await LoadBenchmark.RunAsync(options, _ => { }, CancellationToken.None);
            var json = JsonDocument.Parse(result.ToJson()).RootElement;
            foreach (var field in new[]
            {
                "seconds", "rows_in", "rows_out", "rows_per_second", "ceiling_rows_per_second", "p50_ms", "p99_ms", "max_lag_rows",
                "predict_p50_ms", "predict_p99_ms", "model_bound_rows_per_second", "rejected_rows",
            })
            {
                Assert.True(json.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number, field);
            }

            // 200 rows/s × 3 s planned, 300 per model. Sending stops at --seconds, so on a busy machine some of the plan
            // may stay unsent; whatever was accepted is counted once, in a closed window or the open one.
            Assert.Equal(600, result.RowsIn + result.UnsentRows);
            Assert.True(result.RowsIn >= 200, $"only {result.RowsIn} rows sent in 3 s");
            Assert.Equal(result.RowsIn, result.RowsOut + result.OpenWindowRows);
            Assert.Equal(0, result.Counts.RowsDuplicated);
            Assert.Equal(0, result.Counts.FailedRequests);
            Assert.True(result.Targets.RowsOutEqualsRowsIn);
            Assert.Equal(result.RowsOut / 100, result.Counts.Windows);
            Assert.True(result.P50Ms > 0 && result.P99Ms >= result.P50Ms);
            Assert.True(result.PredictP50Ms > 0 && result.PredictP99Ms >= result.PredictP50Ms);
            Assert.True(result.MaxLagRows is > 0 and <= 600);
            Assert.True(result.CeilingRowsPerSecond > 0 && result.Ceiling.Rows > 0);
            Assert.True(result.Stages.ForwardP50Ms > 0);
            // Inference's own split of its requests: the model's pass is one stage of several, each observed.
            var stages = result.Stages.PredictStagesMeanMs!;
            Assert.True(stages["forward"] > 0 && stages["ledger"] > 0 && stages["store"] > 0 && stages["publish"] > 0, string.Join(", ", stages));
            Assert.True(File.Exists(Path.Combine(work, "inference-after.metrics.txt")));
            Assert.Equal(protocol.ToString().ToLowerInvariant(), json.GetProperty("protocol").GetString());
            Assert.Equal(0, result.RejectedRows);
            // The whole plan fills three windows per model; a cut plan leaves less than a window open per model.
            Assert.InRange(result.OpenWindowRows, 0, result.UnsentRows == 0 ? 0 : 2 * 99);
            Assert.True(result.ModelBoundRowsPerSecond > 0);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
