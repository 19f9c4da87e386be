using System.CommandLine;
using Pipeline.Drift.Benchmark;

namespace Pipeline.Cli.Commands;

/// <summary>`pipelinectl bench drift`: KS + PSI + Wasserstein + JS throughput, and the same by scipy.</summary>
public static class BenchDriftCommand
{
    /// <summary>The `drift` command (placed under `bench`).</summary>
    public static Command Create()
    {
        var outFile = new Option<FileInfo?>("--out") { Description = "Write the JSON result here." };
        var features = new Option<int>("--features") { Description = "Numeric features.", DefaultValueFactory = _ => 100 };
        var refRows = new Option<int>("--reference-rows") { Description = "Reference rows.", DefaultValueFactory = _ => 100_000 };
        var curRows = new Option<int>("--current-rows") { Description = "Current rows.", DefaultValueFactory = _ => 1_000_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic data.", DefaultValueFactory = _ => 1 };
        var timeout = new Option<double>("--scipy-timeout")
        {
            Description = "Seconds to let scipy run before reporting scipy_seconds = null.",
            DefaultValueFactory = _ => 600,
        };
        var noScipy = new Option<bool>("--no-scipy") { Description = "Skip the scipy comparison." };
        var python = new Option<string>("--python")
        {
            Description = "Interpreter that has scipy.",
            DefaultValueFactory = _ => "/usr/bin/python3",
        };
        var cmd = new Command("drift", "Benchmark KS + PSI + Wasserstein + JS on seeded synthetic data, against scipy when installed.");
        foreach (var o in new Option[] { outFile, features, refRows, curRows, seed, timeout, noScipy, python })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var o = new DriftBenchOptions
            {
                Features = r.GetValue(features),
                ReferenceRows = r.GetValue(refRows),
                CurrentRows = r.GetValue(curRows),
                Seed = r.GetValue(seed),
                RunScipy = !r.GetValue(noScipy),
                Python = r.GetValue(python) ?? "/usr/bin/python3",
                ScipyTimeout = TimeSpan.FromSeconds(Math.Max(1, r.GetValue(timeout))),
            };
            if (o.Features < 1 || o.ReferenceRows < 1 || o.CurrentRows < 1)
            {
                await Console.Error.WriteLineAsync("bench drift: --features, --reference-rows and --current-rows must be positive.");
                return 2;
            }
            var result = await Task.Run(() => DriftBenchmark.Run(o, line => Console.Error.WriteLine(line)), ct);
            string json = result.ToJson();
            var path = r.GetValue(outFile);
            if (path is not null)
            {
                if (path.Directory is { Exists: false } d) d.Create();
                await File.WriteAllTextAsync(path.FullName, json + Environment.NewLine, ct);
            }
            await Console.Out.WriteLineAsync(json.AsMemory(), ct);
            return 0;
        });
        return cmd;
    }
}
