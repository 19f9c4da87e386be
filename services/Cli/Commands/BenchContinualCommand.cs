using System.CommandLine;
using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Strategies;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipelinectl bench continual</c>: parses flags, shows progress, writes the JSON of <see cref="ContinualBenchmark"/>;
/// with <c>--summarize</c> it reads earlier JSON files and prints mean and 95% bootstrap intervals instead.
/// </summary>
public static class BenchContinualCommand
{
    /// <summary>Builds the <c>continual</c> command (to be added under <c>bench</c>).</summary>
    public static Command Create()
    {
        var sequence = new Option<string>("--sequence")
        {
            Description = "Comma-separated drift scenarios in order (rotate-DEG, noise-SIGMA, contrast-F, brightness-D, blur-SIGMA, invert, prior-shift-P); or tabular shifts only (tabular-mean, tabular-scale, tabular-mix): the tabular regime's model and data, as bench adapt's",
            DefaultValueFactory = _ => "rotate-15,rotate-30,noise-0.3,contrast-0.3",
        };
        var regime = new Option<string[]>("--regime")
        {
            Description = "Your own shifted set NAME=IMAGES.idx.gz:LABELS.idx.gz, appended after --sequence (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var methods = new Option<string>("--methods")
        {
            Description = "Comma-separated methods: " + string.Join(", ", ContinualStrategies.All),
            DefaultValueFactory = _ => string.Join(",", ContinualStrategies.All),
        };
        var selectRate = new Option<double?>("--select-rate")
        {
            Description = "Share of each backbone tensor MIST's selection keeps, for mist, mist-ridge and random (default 0.05): the MI-against-random sweep",
        };
        var replay = new Option<int>("--replay") { Description = "Replay buffer size shared by every method (0 = none)", DefaultValueFactory = _ => 0 };
        var replayFraction = new Option<double>("--replay-fraction")
        {
            Description = "Share of each adaptation set made of class-balanced reference rows, as the services' replay and bench adapt --replay (0.3 there); not with --replay",
            DefaultValueFactory = _ => 0,
        };
        var labels = new Option<int>("--labels") { Description = "Labelled rows per regime", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Seed of splits, base model and adaptation", DefaultValueFactory = _ => 1 };
        var budget = new Option<string>("--budget") { Description = "quick (< 10 min on 2 cores) or full", DefaultValueFactory = _ => "quick" };
        budget.AcceptOnlyFromAmong("quick", "full");
        var output = new Option<string?>("--out") { Description = "Write the JSON result to this file (default: stdout)" };
        var architecture = new Option<string>("--architecture") { Description = "cnn-small or mlp", DefaultValueFactory = _ => "cnn-small" };
        architecture.AcceptOnlyFromAmong("cnn-small", "mlp");
        var device = new Option<string>("--device") { Description = "auto (CUDA when available), cpu or cuda", DefaultValueFactory = _ => "auto" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Fashion-MNIST directory" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Base-model cache" };
        var summarize = new Option<string[]>("--summarize") { Description = "Summarise earlier JSON results (mean, 95% bootstrap interval) instead of running", AllowMultipleArgumentsPerToken = true };
        var evidence = new Option<string?>("--evidence")
        {
            Description = "With --summarize: also write the tournament policy's evidence table (per shift kind and severity: each strategy's gain, forgetting, cost) to this file",
        };

        var command = new Command("continual", "Continual benchmark: each method adapts to a sequence of regimes and is evaluated on all of them")
        {
            sequence, regime, methods, selectRate, replay, replayFraction, labels, seed, budget, output, architecture, device, dataDir, cacheDir, summarize, evidence,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            if (r.GetValue(evidence) is { Length: > 0 } && r.GetValue(summarize) is not { Length: > 0 })
            {
                err.MarkupLine("[red]--evidence needs --summarize FILE... (the benchmark results it is built from)[/]");
                return 2;
            }
            if (r.GetValue(summarize) is { Length: > 0 } files)
            {
                try
                {
                    var runs = files.Select(f => ContinualBenchmarkResult.FromJson(File.ReadAllText(f))).ToList();
                    Console.Out.Write(ContinualReport.Summary(runs));
                    if (r.GetValue(evidence) is { Length: > 0 } evidencePath)
                    {
                        var command = "./pipeline bench continual --summarize " + string.Join(" ", files) + " --evidence " + evidencePath;
                        var table = StrategyEvidenceBuilder.Build(runs, files, command);
                        await File.WriteAllTextAsync(evidencePath, table.ToJson() + Environment.NewLine, ct);
                        err.MarkupLineInterpolated($"evidence table: {table.Rows.Count} rows written to {evidencePath}");
                    }
                    return 0;
                }
                catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidDataException or UnauthorizedAccessException)
                {
                    err.MarkupLineInterpolated($"[red]{e.Message}[/]");
                    return 1;
                }
            }
            var methodList = Split(r.GetValue(methods)).Select(m => m.ToLowerInvariant()).ToList();
            var unknown = methodList.Where(m => !ContinualStrategies.All.Contains(m)).ToList();
            if (methodList.Count == 0 || unknown.Count > 0)
            {
                err.MarkupLineInterpolated($"[red]unknown method(s): {string.Join(", ", unknown)}[/] (known: {string.Join(", ", ContinualStrategies.All)})");
                return 2;
            }
            var names = Split(r.GetValue(sequence));
            if (r.GetValue(replayFraction) is var fraction && (fraction is < 0 or >= 1 || (fraction > 0 && r.GetValue(replay) > 0)))
            {
                err.MarkupLine("[red]--replay-fraction must be from 0 to below 1, and not with --replay[/]");
                return 2;
            }
            var tabular = Tabular(names, r.GetValue(seed), r.GetValue(cacheDir), err);
            if (tabular.Exit is { } exit) return exit;
            if (tabular.Options is not null)
            {
                if (r.GetValue(regime) is { Length: > 0 })
                {
                    err.MarkupLine("[red]a tabular sequence brings its own model and data: leave out --regime[/]");
                    return 2;
                }
                // retrain cannot rebuild a user's model from scratch; its cost reference is the regime's training recipe.
                if (r.GetResult(methods) is null or { Implicit: true }) methodList.Remove("retrain");
                names = [];
            }
            var badScenario = names.FirstOrDefault(n => !DriftScenario.TryParse(n, out _));
            if (badScenario is not null)
            {
                err.MarkupLineInterpolated($"[red]unknown scenario '{badScenario}'[/] (rotate-DEG, noise-SIGMA, brightness-D, contrast-F, blur-SIGMA, invert, prior-shift-P)");
                return 2;
            }
            List<UserRegime> users;
            try
            {
                users = (r.GetValue(regime) ?? []).Select(UserRegime.Parse).ToList();
            }
            catch (ArgumentException e)
            {
                err.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }
            if (names.Count + users.Count == 0 && tabular.Options is null)
            {
                err.MarkupLine("[red]the sequence is empty[/] (give --sequence and/or --regime)");
                return 2;
            }
            if (r.GetValue(selectRate) is { } rate && !(rate > 0 && rate <= 1))
            {
                err.MarkupLine("[red]--select-rate must be in (0, 1][/] (e.g. 0.01 keeps 1 % of each backbone tensor)");
                return 2;
            }
            if (r.GetValue(labels) < 2 || r.GetValue(replay) < 0)
            {
                err.MarkupLine("[red]--labels must be ≥ 2 and --replay ≥ 0[/]");
                return 2;
            }
            var options = (tabular.Options ?? new ContinualBenchmarkOptions()) with
            {
                Sequence = names,
                UserRegimes = users,
                Methods = methodList,
                Replay = r.GetValue(replay),
                SelectRate = r.GetValue(selectRate),
                ReplayFraction = r.GetValue(replayFraction),
                Labels = r.GetValue(labels),
                Seed = r.GetValue(seed),
                Budget = r.GetValue(budget) ?? "quick",
                Architecture = r.GetValue(architecture) ?? "cnn-small",
                Device = r.GetValue(device) ?? "auto",
                DataDirectory = r.GetValue(dataDir),
                CacheDirectory = r.GetValue(cacheDir),
            };

            ContinualBenchmarkResult? result = null;
            try
            {
                var progress = new SyncProgress<BenchmarkProgress>(p =>
                    err.MarkupLineInterpolated($"[grey]{DateTime.UtcNow:HH:mm:ss}[/] {p.Stage}: {p.Detail} ({p.Current}/{p.Total})"));
                result = await Task.Run(() => ContinualBenchmark.Run(options, progress, ct), ct);
            }
            catch (OperationCanceledException)
            {
                err.MarkupLine("[yellow]cancelled[/]");
                return 130;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException or FormatException)
            {
                err.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 1;
            }

            var json = result!.ToJson();
            var outPath = r.GetValue(output);
            if (string.IsNullOrEmpty(outPath))
            {
                Console.Out.WriteLine(json);
            }
            else
            {
                var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(outPath, json + Environment.NewLine, ct);
                err.MarkupLineInterpolated($"[green]wrote[/] {outPath}");
            }
            err.WriteLine(ContinualReport.Table(result));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// A sequence of tabular shifts: the tabular regime's model and CSV files (made once per seed, as for bench adapt)
    /// as options to complete; null options when the sequence has no tabular shift, an exit code for a bad one.
    /// </summary>
    private static (ContinualBenchmarkOptions? Options, int? Exit) Tabular(List<string> names, int seed, string? cacheDir, IAnsiConsole err)
    {
        List<string?> shifts;
        try
        {
            shifts = names.Select(Benchmarks.TabularRegime.ShiftOf).ToList();
        }
        catch (ArgumentException e)
        {
            err.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return (null, 2);
        }
        if (shifts.All(s => s is null)) return (null, null);
        if (shifts.Any(s => s is null))
        {
            err.MarkupLine("[red]a tabular sequence holds tabular shifts only (tabular-mean, tabular-scale, tabular-mix)[/]");
            return (null, 2);
        }
        err.MarkupLine("[grey]tabular regime: model and data from tools/byom/tabular_regime.py (cached after the first run)[/]");
        string dir;
        try
        {
            dir = Benchmarks.TabularRegime.Ensure(seed, cacheDir ?? Pipeline.ML.Training.BaseTrainer.DefaultCacheDirectory);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or InvalidOperationException)
        {
            err.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return (null, 1);
        }
        return (new ContinualBenchmarkOptions
        {
            Sequence = [],
            ModelPath = Path.Combine(dir, "model.pt"),
            ManifestPath = Path.Combine(dir, "model.json"),
            OriginalCsv = Path.Combine(dir, "original.csv"),
            LabelColumn = "label",
            CsvRegimes = names.Select((n, i) => new CsvRegime(n.ToLowerInvariant(), Path.Combine(dir, $"shifted-{shifts[i]}.csv"))).ToList(),
            RetrainRecipe = Benchmarks.TabularRegime.TrainingRecipe,
        }, null);
    }

    private static List<string> Split(string? s) =>
        (s ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
