using System.CommandLine;
using Pipeline.Drift;
using Pipeline.Drift.Tabular;

namespace Pipeline.Cli.Commands;

/// <summary>`pipelinectl drift compare`: per-feature drift between two CSV files (JSON contract in docs/architecture.md).</summary>
public static class DriftCompareCommand
{
    /// <summary>Exit code for bad input (unreadable file, mismatched columns, bad options).</summary>
    public const int InputError = 2;

    /// <summary>The `compare` command (placed under `drift`).</summary>
    public static Command Create()
    {
        var reference = new Option<FileInfo>("--reference") { Description = "Reference CSV (header row).", Required = true };
        var current = new Option<FileInfo>("--current") { Description = "Current CSV (same columns).", Required = true };
        var categorical = new Option<string?>("--categorical")
        {
            Description = "Comma-separated categorical column names; all other columns are numeric.",
        };
        var outFile = new Option<FileInfo?>("--out") { Description = "Write the JSON report here (stdout when omitted)." };
        var test = new Option<string>("--test")
        {
            Description = "Numeric decision test: ks (p-value), psi, js or wasserstein (statistic >= threshold).",
            DefaultValueFactory = _ => "ks",
        };
        var threshold = new Option<double?>("--threshold")
        {
            Description = "Threshold of the numeric test (default 0.05 for ks; required meaningfully for the others).",
        };
        var catThreshold = new Option<double>("--categorical-threshold")
        {
            Description = "Chi-squared p-value threshold for categorical features.",
            DefaultValueFactory = _ => 0.05,
        };
        var bonferroni = new Option<bool>("--bonferroni") { Description = "Divide p-value thresholds by the number of features." };
        var share = new Option<double>("--share")
        {
            Description = "Dataset drift when the share of drifted features is at least this.",
            DefaultValueFactory = _ => 0.5,
        };

        var cmd = new Command("compare", "Compare a current CSV with a reference CSV: KS/PSI/Wasserstein/JS per numeric column, chi-squared/PSI/JS per categorical column.");
        foreach (var o in new Option[] { reference, current, categorical, outFile, test, threshold, catThreshold, bonferroni, share })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            try
            {
                var numericTest = ParseTest(r.GetValue(test) ?? "ks");
                var options = new DriftDecisionOptions
                {
                    NumericTest = numericTest,
                    NumericThreshold = r.GetValue(threshold) ?? DefaultThreshold(numericTest),
                    CategoricalThreshold = r.GetValue(catThreshold),
                    Bonferroni = r.GetValue(bonferroni),
                    DatasetDriftShare = r.GetValue(share),
                };
                var cats = (r.GetValue(categorical) ?? "")
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var report = DriftComparer.CompareFiles(r.GetValue(reference)!.FullName, r.GetValue(current)!.FullName, cats, options);
                string json = report.ToJson();
                var o = r.GetValue(outFile);
                if (o is null)
                {
                    await Console.Out.WriteLineAsync(json.AsMemory(), ct);
                }
                else
                {
                    if (o.Directory is { Exists: false } d) d.Create();
                    await File.WriteAllTextAsync(o.FullName, json + Environment.NewLine, ct);
                    int drifted = report.Features.Count(f => f.Drifted);
                    await Console.Out.WriteLineAsync(
                        $"dataset_drift={report.DatasetDrift.ToString().ToLowerInvariant()} share_drifted={report.ShareDrifted:F3} " +
                        $"({drifted}/{report.EvaluatedFeatures} features) -> {o.FullName}");
                }
                return 0;
            }
            catch (DriftInputException e)
            {
                await Console.Error.WriteLineAsync("drift compare: " + e.Message);
                return InputError;
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync("drift compare: " + e.Message);
                return InputError;
            }
        });
        return cmd;
    }

    private static NumericTest ParseTest(string s) => s.Trim().ToLowerInvariant() switch
    {
        "ks" => NumericTest.Ks,
        "psi" => NumericTest.Psi,
        "js" or "jensen_shannon" or "jensen-shannon" => NumericTest.JensenShannon,
        "wasserstein" or "w1" => NumericTest.Wasserstein,
        _ => throw new DriftInputException($"--test must be ks, psi, js or wasserstein, got '{s}'."),
    };

    private static double DefaultThreshold(NumericTest t) => t switch
    {
        NumericTest.Ks => 0.05,
        NumericTest.Psi => 0.2,
        NumericTest.JensenShannon => 0.1,
        _ => throw new DriftInputException("--test wasserstein needs --threshold (in the feature's units)."),
    };
}
