using System.CommandLine;
using System.Globalization;
using Pipeline.Cli.Benchmarks;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipelinectl bench load</c>: production traffic through the inference API into DriftDetection (<see cref="LoadBenchmark"/>).</summary>
public static class BenchLoadCommand
{
    /// <summary>The <c>load</c> command (placed under <c>bench</c>).</summary>
    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "Seconds of sending: rows go at --rate until then, then sending stops", Required = true };
        var protocol = new Option<string>("--protocol") { Description = "json (instances), binary (raw float32 rows) or v2 (Open Inference Protocol, binary tensor data)", DefaultValueFactory = _ => "json" };
        protocol.AcceptOnlyFromAmong("json", "binary", "v2");
        var rate = new Option<int>("--rate") { Description = "Rows per second, all models together", Required = true };
        var batch = new Option<int>("--batch") { Description = "Rows per request", DefaultValueFactory = _ => 100 };
        var models = new Option<int>("--models") { Description = "Models served and monitored (traffic shared in turn)", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Write the JSON result to this file (default: stdout)" };
        var window = new Option<int>("--window") { Description = "Drift window rows (DriftDetection:WindowSize; production default 500)", DefaultValueFactory = _ => 500 };
        var tail = new Option<int>("--tail-seconds") { Description = "Stop waiting for windows after this long without a new one (and after ten times this in all)", DefaultValueFactory = _ => 30 };
        var broker = new Option<string?>("--broker") { Description = "amqp:// URI of the RabbitMQ virtual host (default $PIPELINE_BENCH_RABBITMQ, else guest on localhost)" };
        var workDir = new Option<string?>("--work-dir") { Description = "Database, artifacts and service logs (default .pipeline/bench/load-<time>)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Base-model cache (default $PIPELINE_CACHE_DIR or ~/.cache/pipeline)" };
        var microBatch = new Option<int>("--micro-batch")
        {
            Description = "Inference:MicroBatchMaxRows for the run: concurrent requests share forward passes of at most this many rows (0: off, the default)",
            DefaultValueFactory = _ => 0,
        };
        var torchThreads = new Option<int>("--torch-threads")
        {
            Description = "Inference:TorchThreads for the run: libtorch intra-op threads in the inference process (0: libtorch's default, one per core)",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("load", "Production traffic through the inference HTTP API into DriftDetection on RabbitMQ; rows in vs rows evaluated, latencies, the broker's ceiling")
        {
            seconds, rate, batch, models, output, window, tail, broker, workDir, dataDir, cacheDir, protocol, microBatch, torchThreads,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            Uri brokerUri;
            try
            {
                brokerUri = r.GetValue(broker) is { } b ? new Uri(b) : LoadBenchmarkOptions.DefaultBroker;
            }
            catch (UriFormatException)
            {
                await Console.Error.WriteLineAsync($"bench load: --broker '{r.GetValue(broker)}' is not a URI (amqp://user:password@host:5672/vhost)");
                return 2;
            }

            var o = new LoadBenchmarkOptions
            {
                Seconds = r.GetValue(seconds), Rate = r.GetValue(rate), Batch = r.GetValue(batch), Models = r.GetValue(models),
                WindowRows = r.GetValue(window), Tail = TimeSpan.FromSeconds(r.GetValue(tail)), Broker = brokerUri,
                WorkDirectory = r.GetValue(workDir)
                    ?? Path.Combine(".pipeline", "bench", "load-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)),
                DataDirectory = r.GetValue(dataDir), CacheDirectory = r.GetValue(cacheDir),
                Protocol = Enum.Parse<LoadProtocol>(r.GetValue(protocol)!, ignoreCase: true), MicroBatchRows = r.GetValue(microBatch),
                TorchThreads = r.GetValue(torchThreads),
            };
            if (o.Problem() is { } problem)
            {
                await Console.Error.WriteLineAsync($"bench load: {problem}");
                return 2;
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = await LoadBenchmark.RunAsync(o, line => Console.Error.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"[bench load {clock.Elapsed.TotalSeconds,6:F1}s] {line}")), ct);
            var json = result.ToJson();
            if (r.GetValue(output) is { Length: > 0 } path)
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(path, json + Environment.NewLine, ct);
                await Console.Error.WriteLineAsync($"[bench load] wrote {path}");
            }
            else
            {
                await Console.Out.WriteLineAsync(json);
            }

            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"[bench load] {result.Protocol}: rows in {result.RowsIn:N0}, out {result.RowsOut:N0}, refused {result.RejectedRows:N0}; {result.RowsPerSecond:N0} rows/s vs model bound {result.ModelBoundRowsPerSecond:N0}, ceiling {result.CeilingRowsPerSecond:N0}; " +
                $"acceptance→window p50 {result.P50Ms} ms, p99 {result.P99Ms} ms; predict p50 {result.PredictP50Ms} ms, p99 {result.PredictP99Ms} ms; max lag {result.MaxLagRows:N0} rows"));
            return 0;
        });
        return command;
    }
}
