using System.CommandLine;
using System.Globalization;
using Pipeline.Cli.Benchmarks;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary><c>pipelinectl bench detect</c>: the drift-detection and trigger benchmark (<see cref="DetectBenchmark"/>).</summary>
public static class BenchDetectCommand
{
    /// <summary>The <c>detect</c> command (placed under <c>bench</c>).</summary>
    public static Command Create()
    {
        var seeds = new Option<int>("--seeds") { Description = "Seeds 1..N (data split, base model, traffic)", DefaultValueFactory = _ => 1 };
        var firstSeed = new Option<int>("--first-seed") { Description = "First seed (seeds run FIRST..FIRST+N-1)", DefaultValueFactory = _ => 1 };
        var noTabular = new Option<bool>("--no-tabular") { Description = "Skip the tabular streams (generated rows, over-confident MLP)" };
        var tabularOnly = new Option<bool>("--tabular-only") { Description = "Only the tabular streams (no Fashion-MNIST model; seconds)" };
        var output = new Option<string?>("--out") { Description = "Write the JSON result to this file (default: stdout)" };
        var cleanWindows = new Option<int>("--clean-windows") { Description = "Windows of the clean stream", DefaultValueFactory = _ => 500 };
        var minDrop = new Option<double>("--min-drop") { Description = "Trigger's minimum accuracy drop (fraction)", DefaultValueFactory = _ => 0.02 };
        var scenarios = new Option<string?>("--scenarios") { Description = "Comma-separated shifts instead of the default list (rotate-5, noise-0.1, …)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
        var witness = new Option<string>("--witness")
        {
            Description = "Architecture of the second model the agreement estimators compare with (cnn-small, mlp, none)", DefaultValueFactory = _ => "cnn-small",
        };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Base-model cache (default $PIPELINE_CACHE_DIR or ~/.cache/pipeline)" };
        var command = new Command("detect", "Stream clean and shifted traffic through the drift monitor and trigger policy; report detection, delay and runs")
        {
            seeds, firstSeed, noTabular, tabularOnly, output, cleanWindows, minDrop, scenarios, witness, dataDir, cacheDir,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            var o = new DetectBenchmarkOptions
            {
                Seeds = r.GetValue(seeds), FirstSeed = r.GetValue(firstSeed), CleanWindows = r.GetValue(cleanWindows), MinAccuracyDrop = r.GetValue(minDrop),
                DataDirectory = r.GetValue(dataDir), CacheDirectory = r.GetValue(cacheDir),
                Witness = r.GetValue(witness) is "none" ? null : r.GetValue(witness),
            };
            if (r.GetValue(scenarios) is { } list)
            {
                var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                o = o with
                {
                    Scenarios = names.Where(n => !n.StartsWith("tabular-", StringComparison.Ordinal)).ToList(),
                    TabularShifts = names.Where(n => n.StartsWith("tabular-", StringComparison.Ordinal)).ToList(),
                };
            }
            if (r.GetValue(noTabular)) o = o with { TabularShifts = [] };
            if (r.GetValue(tabularOnly)) o = o with { ImageStreams = false };
            if (o.Seeds is < 1 or > 20 || o.FirstSeed is < 1 or > 1000 || o.CleanWindows < 1 || o.MinAccuracyDrop is < 0 or >= 1)
            {
                err.MarkupLine("[red]bench detect: --seeds must be 1..20, --first-seed 1..1000, --clean-windows positive, --min-drop in [[0, 1)[/]");
                return 2;
            }
            DetectBenchmarkResult result;
            try
            {
                result = await Task.Run(() => DetectBenchmark.Run(o, line => err.MarkupLineInterpolated($"[grey]{line}[/]"), ct), ct);
            }
            catch (OperationCanceledException)
            {
                err.MarkupLine("[yellow]cancelled[/]");
                return 130;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException or FormatException)
            {
                err.MarkupLineInterpolated($"[red]bench detect: {e.Message}[/]");
                return 1;
            }
            var json = result.ToJson();
            var path = r.GetValue(output);
            if (string.IsNullOrEmpty(path))
            {
                Console.Out.WriteLine(json);
            }
            else
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(path, json + Environment.NewLine, ct);
                err.MarkupLineInterpolated($"[green]wrote[/] {path}");
            }
            err.Write(Table(result));
            return 0;
        });
        return command;
    }

    private static Table Table(DetectBenchmarkResult r)
    {
        static string P(double v) => (v * 100).ToString("0.0", CultureInfo.InvariantCulture);
        var t = new Table().Title($"clean: {r.Clean.Windows} windows, {r.Clean.FalseAlarms} false alarms, {r.Clean.Runs} runs");
        foreach (var c in new[] { "scenario", "seed", "true drop", "est. drop", "true acc", "est. acc", "drift after", "run after", "decision" }) t.AddColumn(c);
        foreach (var s in r.Shifts)
        {
            t.AddRow(s.Scenario, s.Seed.ToString(CultureInfo.InvariantCulture), P(s.AccuracyDrop), P(s.EstimatedDrop), P(s.TrueAccuracy), P(s.EstimatedAccuracy),
                s.DelayRows?.ToString(CultureInfo.InvariantCulture) ?? "-", s.RunDelayRows?.ToString(CultureInfo.InvariantCulture) ?? "-", s.Decision);
        }
        return t;
    }
}
