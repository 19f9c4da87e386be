using System.CommandLine;
using System.Globalization;
using Pipeline.Cli.Benchmarks;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipelinectl bench pipeline</c>: hop latency of adaptation runs across service processes (<see cref="PipelineBench"/>).</summary>
public static class BenchPipelineCommand
{
    public const string DefaultBroker = "amqp://guest:guest@127.0.0.1:5672/bench-pipeline";

    /// <summary>The <c>pipeline</c> command (placed under <c>bench</c>).</summary>
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Adaptation runs, one after another (1-1000)", DefaultValueFactory = _ => 10 };
        var output = new Option<string?>("--out") { Description = "Write the JSON result to this file (default: stdout)" };
        var rows = new Option<int>("--rows") { Description = "Labelled production rows per run (40-4000)", DefaultValueFactory = _ => 100 };
        var stall = new Option<int>("--stall-seconds") { Description = "Stop when a run has no message for this long (10-3600)", DefaultValueFactory = _ => 120 };
        var broker = new Option<string?>("--broker") { Description = $"RabbitMQ URI (default $PIPELINE_BENCH_PIPELINE_AMQP or {DefaultBroker}; ./pipeline bench pipeline makes a fresh vhost)" };
        var workDir = new Option<string?>("--work-dir") { Description = "Database, artifacts and service logs (default: a fresh .pipeline/bench-pipeline/<time>)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
        var command = new Command("pipeline", "Time every hop of N adaptation runs with each service as its own process on RabbitMQ")
        {
            runs, output, rows, stall, broker, workDir, dataDir,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            var uri = r.GetValue(broker) ?? (Environment.GetEnvironmentVariable("PIPELINE_BENCH_PIPELINE_AMQP") is { Length: > 0 } u ? u : DefaultBroker);
            if (r.GetValue(runs) is < 1 or > 1000 || r.GetValue(rows) is < 40 or > 4000 || r.GetValue(stall) is < 10 or > 3600)
            {
                return Fail(err, "--runs must be 1..1000, --rows 40..4000, --stall-seconds 10..3600");
            }

            if (!Uri.TryCreate(uri, UriKind.Absolute, out var brokerUri) || brokerUri.Scheme != "amqp" || !brokerUri.UserInfo.Contains(':', StringComparison.Ordinal))
            {
                return Fail(err, $"--broker '{uri}' is not amqp://user:password@host:port/vhost");
            }

            var o = new PipelineBenchOptions
            {
                Runs = r.GetValue(runs), Rows = r.GetValue(rows), Stall = TimeSpan.FromSeconds(r.GetValue(stall)), Broker = brokerUri,
                WorkDirectory = Path.GetFullPath(r.GetValue(workDir)
                    ?? Path.Combine(".pipeline", "bench-pipeline", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture))),
                DataDirectory = r.GetValue(dataDir) ?? Environment.GetEnvironmentVariable("PIPELINE_DATA_DIR"),
            };
            PipelineBenchResult result;
            try
            {
                result = await PipelineBench.RunAsync(o, line => err.MarkupLineInterpolated($"[grey]{line}[/]"), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                err.MarkupLine("[yellow]cancelled[/]");
                return 130;
            }
            catch (Exception e) when (e is PipelineBenchException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                or TimeoutException or InvalidOperationException or MassTransit.RequestTimeoutException or MassTransit.RequestFaultException)
            {
                return Fail(err, e.Message);
            }

            var json = result.ToJson();
            if (r.GetValue(output) is { Length: > 0 } path)
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(path, json + Environment.NewLine, ct);
                err.MarkupLineInterpolated($"[green]wrote[/] {path}");
            }
            else
            {
                Console.Out.WriteLine(json);
            }

            err.Write(Table(result));
            return 0;
        });
        return command;
    }

    private static int Fail(IAnsiConsole err, string message)
    {
        err.MarkupLineInterpolated($"[red]error: bench pipeline: {message}[/]");
        return message.StartsWith("--", StringComparison.Ordinal) ? 2 : 1;
    }

    private static Table Table(PipelineBenchResult r)
    {
        static string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        var t = new Table().Title(string.Create(CultureInfo.InvariantCulture,
            $"{r.Runs} runs: total p50 {r.TotalP50S:0.00} s, compute p50 {r.ComputeP50S:0.00} s, overhead p50 {r.OverheadP50S:0.00} s / p95 {r.OverheadP95S:0.00} s (target < {r.TargetOverheadP95S} s: {(r.TargetMet ? "met" : "missed")})"));
        foreach (var c in new[] { "hop", "service", "wait p50/p95 ms", "handler p50/p95 ms", "dispatch p50/p95 ms", "compute p50 ms" }) t.AddColumn(c);
        foreach (var h in r.Hops)
        {
            t.AddRow(Markup.Escape(h.Hop + (h.InTotal ? "" : " (after)")), Markup.Escape(h.Service ?? ""), $"{F(h.WaitP50Ms)} / {F(h.WaitP95Ms)}",
                $"{F(h.HandlerP50Ms)} / {F(h.HandlerP95Ms)}", $"{F(h.DispatchP50Ms)} / {F(h.DispatchP95Ms)}", F(h.ComputeP50Ms));
        }

        return t;
    }
}
