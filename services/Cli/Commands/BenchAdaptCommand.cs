using System.CommandLine;
using System.Globalization;
using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Tuning;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>pipelinectl bench adapt</c>: parses flags, shows progress bars, writes the JSON of
/// <see cref="AdaptBenchmark"/> (contract in docs/architecture.md, "Command-line contracts").
/// </summary>
public static class BenchAdaptCommand
{
    /// <summary>Builds the <c>adapt</c> command (to be added under <c>bench</c>).</summary>
    public static Command Create()
    {
        var scenario = new Option<string>("--scenario")
        {
            Description = "Drift scenario (rotate-30, noise-0.3, contrast, brightness, blur, invert, prior-shift); tabular-mean, tabular-scale or tabular-mix: the tabular regime (a user-like MLP and generated rows, made with Debian's PyTorch and cached); only a label with --shifted-images",
            Required = true,
        };
        var shiftedImages = new Option<string?>("--shifted-images") { Description = "IDX file (gzip or raw) of your own shifted images [N,28,28]" };
        var shiftedLabels = new Option<string?>("--shifted-labels") { Description = "IDX file (gzip or raw) of their labels 0..9" };
        var methods = new Option<string>("--methods")
        {
            Description = "Comma-separated methods: " + string.Join(", ", AdaptBenchmark.KnownMethods),
            DefaultValueFactory = _ => "full,head,random,mist,ridge,prototype",
        };
        var seed = new Option<int>("--seed") { Description = "Seed of data splits, base model and tuning", DefaultValueFactory = _ => 1 };
        var budget = new Option<string>("--budget") { Description = "quick (< 5 min on 2 cores) or full", DefaultValueFactory = _ => "quick" };
        budget.AcceptOnlyFromAmong("quick", "full");
        var output = new Option<string?>("--out") { Description = "Write the JSON result to this file (default: stdout)" };
        var architecture = new Option<string>("--architecture") { Description = "cnn-small or mlp", DefaultValueFactory = _ => "cnn-small" };
        architecture.AcceptOnlyFromAmong("cnn-small", "mlp");
        var device = new Option<string>("--device") { Description = "auto (CUDA when available), cpu or cuda", DefaultValueFactory = _ => "auto" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Base-model cache (default $PIPELINE_CACHE_DIR or ~/.cache/pipeline)" };
        var model = new Option<string?>("--model") { Description = "Your TorchScript model (.pt saved by torch.jit.save) instead of a built-in architecture" };
        var manifest = new Option<string?>("--manifest") { Description = "The manifest of --model (docs/models.md)" };
        var saveAdapted = new Option<string?>("--save-adapted") { Description = "Write each adapted model to DIR/<method>.pt (TorchScript) + DIR/<method>.json, and DIR/<method>.readout.npz when it predicts through a readout (tools/byom/load_adapted.py loads them)" };
        var originalCsv = new Option<string?>("--original-csv") { Description = "Labelled original rows (CSV) for a model that does not take Fashion-MNIST images" };
        var shiftedCsv = new Option<string?>("--shifted-csv") { Description = "Labelled shifted rows (CSV): adaptation set and shifted test set" };
        var labelColumn = new Option<string?>("--label-column") { Description = "Label column of the CSV files (class name or index)" };
        var replay = new Option<double>("--replay")
        {
            Description = "Share of the adaptation set made of class-balanced original (reference) rows, as the services' replay (0.3 there); the same set for every method",
            DefaultValueFactory = _ => 0,
        };

        var command = new Command("adapt", "Benchmark adaptation methods on a shifted Fashion-MNIST scenario, or on your own model and data")
        {
            scenario, shiftedImages, shiftedLabels, methods, seed, budget, output, architecture, device, dataDir, cacheDir,
            model, manifest, saveAdapted, originalCsv, shiftedCsv, labelColumn, replay,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            var methodList = (r.GetValue(methods) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(m => m.ToLowerInvariant()).ToList();
            var unknown = methodList.Where(m => !AdaptBenchmark.KnownMethods.Contains(m)).ToList();
            if (methodList.Count == 0 || unknown.Count > 0)
            {
                err.MarkupLineInterpolated($"[red]unknown method(s): {string.Join(", ", unknown)}[/] (known: {string.Join(", ", AdaptBenchmark.KnownMethods)})");
                return 2;
            }
            var images = r.GetValue(shiftedImages);
            var labels = r.GetValue(shiftedLabels);
            if ((images is null) != (labels is null))
            {
                err.MarkupLine("[red]--shifted-images and --shifted-labels go together[/]");
                return 2;
            }
            var name = r.GetValue(scenario)!;
            if ((r.GetValue(model) is null) != (r.GetValue(manifest) is null))
            {
                err.MarkupLine("[red]--model and --manifest go together[/]");
                return 2;
            }
            var replayFraction = r.GetValue(replay);
            if (replayFraction is < 0 or >= 1)
            {
                err.MarkupLineInterpolated($"[red]--replay {replayFraction} must be from 0 to below 1[/]");
                return 2;
            }
            string? tabularShift;
            try
            {
                tabularShift = Benchmarks.TabularRegime.ShiftOf(name);
            }
            catch (ArgumentException e)
            {
                err.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }
            string? modelPath = r.GetValue(model), manifestPath = r.GetValue(manifest);
            string? originalPath = r.GetValue(originalCsv), shiftedPath = r.GetValue(shiftedCsv), labelName = r.GetValue(labelColumn);
            if (tabularShift is not null)
            {
                if (images is not null || modelPath is not null || originalPath is not null || shiftedPath is not null)
                {
                    err.MarkupLine("[red]a tabular scenario brings its own model and data: leave out --model, --manifest, --shifted-images and the CSV options[/]");
                    return 2;
                }
                err.MarkupLine("[grey]tabular regime: model and data from tools/byom/tabular_regime.py (cached after the first run)[/]");
                string dir;
                try
                {
                    dir = Benchmarks.TabularRegime.Ensure(r.GetValue(seed), r.GetValue(cacheDir) ?? Pipeline.ML.Training.BaseTrainer.DefaultCacheDirectory);
                }
                catch (Exception e) when (e is FileNotFoundException or InvalidDataException or InvalidOperationException)
                {
                    err.MarkupLineInterpolated($"[red]{e.Message}[/]");
                    return 1;
                }
                (modelPath, manifestPath) = (Path.Combine(dir, "model.pt"), Path.Combine(dir, "model.json"));
                (originalPath, shiftedPath, labelName) = (Path.Combine(dir, "original.csv"), Path.Combine(dir, $"shifted-{tabularShift}.csv"), "label");
            }
            var csv = originalPath is not null || shiftedPath is not null;
            // With --model the library decides: a non-Fashion-MNIST model needs CSV data, and says so first.
            if (images is null && !csv && modelPath is null && !DriftScenario.TryParse(name, out _))
            {
                err.MarkupLineInterpolated($"[red]unknown scenario '{name}'[/] (rotate-DEG, noise-SIGMA, brightness-D, contrast-F, blur-SIGMA, invert, prior-shift-KEEP, tabular-mean, tabular-scale, tabular-mix)");
                return 2;
            }
            var options = new AdaptBenchmarkOptions
            {
                Scenario = name,
                Methods = methodList,
                Seed = r.GetValue(seed),
                Budget = r.GetValue(budget) ?? "quick",
                ShiftedImages = images,
                ShiftedLabels = labels,
                Architecture = r.GetValue(architecture) ?? "cnn-small",
                Device = r.GetValue(device) ?? "auto",
                DataDirectory = r.GetValue(dataDir),
                CacheDirectory = r.GetValue(cacheDir),
                ModelPath = modelPath,
                ManifestPath = manifestPath,
                SaveAdaptedDirectory = r.GetValue(saveAdapted),
                OriginalCsv = originalPath,
                ShiftedCsv = shiftedPath,
                LabelColumn = labelName,
                ReplayFraction = replayFraction,
            };

            AdaptBenchmarkResult? result = null;
            try
            {
                await err.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                    .StartAsync(async ctx =>
                    {
                        var tasks = new Dictionary<string, ProgressTask>();
                        ProgressTask Task(string stage)
                        {
                            lock (tasks)
                            {
                                if (!tasks.TryGetValue(stage, out var t))
                                {
                                    t = ctx.AddTask(Label(stage), maxValue: 1);
                                    tasks[stage] = t;
                                }
                                return t;
                            }
                        }
                        foreach (var s in new[] { "data", "base" }.Concat(methodList)) Task(s);
                        var progress = new SyncProgress<BenchmarkProgress>(p =>
                        {
                            var t = Task(p.Stage);
                            t.MaxValue = Math.Max(1, p.Total);
                            t.Value = Math.Min(p.Current, t.MaxValue);
                            t.Description = $"{Label(p.Stage)} [grey]{Markup.Escape(p.Detail)}[/]";
                            if (p.Detail is "done" or "ready" or "trained" or "loaded from cache") t.Value = t.MaxValue;
                        });
                        result = await System.Threading.Tasks.Task.Run(() => AdaptBenchmark.Run(options, progress, ct), ct);
                    });
            }
            catch (OperationCanceledException)
            {
                err.MarkupLine("[yellow]cancelled[/]");
                return 130;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or FormatException
                or Pipeline.ML.Models.ModelValidationException)
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
            }
            err.Write(Summary(result));
            if (!string.IsNullOrEmpty(outPath)) err.MarkupLineInterpolated($"[green]wrote[/] {outPath}");
            return 0;
        });
        return command;
    }

    private static string Label(string stage) => stage switch
    {
        "data" => "data",
        "base" => "base model",
        _ => "adapt: " + stage,
    };

    private static Table Summary(AdaptBenchmarkResult r)
    {
        static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);
        var table = new Table().Title($"{r.Scenario} · seed {r.Seed} · {r.Budget} · base orig {F(r.Base.AccOriginal)} shifted {F(r.Base.AccShifted)}");
        foreach (var c in new[] { "method", "acc_shifted", "acc_original", "forgetting", "selected", "updated/step", "opt state B", "train s" })
            table.AddColumn(c);
        foreach (var x in r.Results)
        {
            table.AddRow(x.Method, F(x.AccShifted), F(x.AccOriginal), F(x.Forgetting), F(x.SelectedFraction), F(x.UpdatedFractionPerStep),
                x.OptimizerStateBytes.ToString(CultureInfo.InvariantCulture), x.TrainSeconds.ToString("0.0", CultureInfo.InvariantCulture));
        }
        return table;
    }
}
