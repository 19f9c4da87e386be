using System.Diagnostics;
using System.Security.Cryptography;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// The tabular regime of <c>bench adapt</c> (<c>--scenario tabular-mean|tabular-scale|tabular-mix</c>): a user-like
/// PyTorch MLP (categorical embeddings, LayerNorm, GELU, dropout, 3 classes) and its generated data, made by
/// tools/byom/tabular_regime.py (embedded in this program) with Debian's PyTorch once per script version and seed,
/// then read from the cache like the built-in base models.
/// </summary>
public static class TabularRegime
{
    /// <summary>The shifts the script writes (shifted-SHIFT.csv).</summary>
    public static IReadOnlyList<string> Shifts { get; } = ["mean", "scale", "mix"];

    /// <summary>
    /// The script's training recipe (its --train-rows and --epochs defaults, which <see cref="Ensure"/> keeps): the cost
    /// reference of retraining the model, which <c>bench continual</c> counts rather than runs.
    /// </summary>
    public static (int Rows, int Epochs) TrainingRecipe { get; } = (20000, 25);

    /// <summary>The shift of a <c>tabular-SHIFT</c> scenario name, or null when the name is not one.</summary>
    public static string? ShiftOf(string scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        const string prefix = "tabular-";
        if (!scenario.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return null;
        var shift = scenario[prefix.Length..].ToLowerInvariant();
        return Shifts.Contains(shift) ? shift : throw new ArgumentException(
            $"unknown tabular scenario '{scenario}' (tabular-{string.Join(", tabular-", Shifts)})");
    }

    /// <summary>The script's text.</summary>
    public static string Script()
    {
        using var stream = typeof(TabularRegime).Assembly.GetManifestResourceStream("tabular_regime.py")
            ?? throw new InvalidOperationException("tabular_regime.py is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The folder of model.pt/json, original.csv and shifted-*.csv for <paramref name="seed"/>, made when missing.</summary>
    public static string Ensure(int seed, string cacheDirectory, string python = "/usr/bin/python3", TimeSpan? timeout = null)
    {
        var script = Script();
        var hash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(script)))[..16].ToLowerInvariant();
        var dir = Path.Combine(cacheDirectory, "tabular-regime", $"{hash}-s{seed}");
        if (File.Exists(Path.Combine(dir, "done"))) return dir;
        var temp = dir + ".tmp-" + Environment.ProcessId;
        Directory.CreateDirectory(temp);
        var scriptPath = Path.Combine(temp, "tabular_regime.py");
        File.WriteAllText(scriptPath, script);
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { scriptPath, "--out", temp, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + python);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FileNotFoundException($"{python} not found ({e.Message}): the tabular regime needs Python 3 with PyTorch (apt-get install python3-torch)");
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(10)))
            {
                p.Kill(true);
                throw new InvalidOperationException("tabular_regime.py timed out");
            }
            if (p.ExitCode != 0)
            {
                var lines = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                throw new InvalidDataException($"tabular_regime.py failed ({p.ExitCode}): {lines.LastOrDefault() ?? "no message"}");
            }
        }
        File.WriteAllText(Path.Combine(temp, "done"), hash);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        Directory.Move(temp, dir);
        return dir;
    }
}
