using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Benchmark;

/// <summary>Settings of `bench drift`.</summary>
public sealed record DriftBenchOptions
{
    /// <summary>Numeric features.</summary>
    public int Features { get; init; } = 100;
    /// <summary>Reference rows.</summary>
    public int ReferenceRows { get; init; } = 100_000;
    /// <summary>Current rows.</summary>
    public int CurrentRows { get; init; } = 1_000_000;
    /// <summary>Seed of the synthetic data.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Run the scipy comparison when the interpreter has scipy.</summary>
    public bool RunScipy { get; init; } = true;
    /// <summary>Interpreter with scipy (Debian's python3-scipy).</summary>
    public string Python { get; init; } = "/usr/bin/python3";
    /// <summary>Kill the scipy run after this long and report null.</summary>
    public TimeSpan ScipyTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>The `bench drift --out` JSON (extra fields are additive).</summary>
public sealed record DriftBenchResult
{
    /// <summary>Features.</summary>
    public int Features { get; init; }
    /// <summary>Reference rows.</summary>
    public int ReferenceRows { get; init; }
    /// <summary>Current rows.</summary>
    public int CurrentRows { get; init; }
    /// <summary>Wall seconds of the C# statistics (all features, KS + PSI + Wasserstein + JS, sorting included).</summary>
    public double Seconds { get; init; }
    /// <summary>current_rows / seconds.</summary>
    public double RowsPerSecond { get; init; }
    /// <summary>Seconds scipy took for the same statistics on the same data, or null.</summary>
    public double? ScipySeconds { get; init; }
    /// <summary>scipy_seconds / seconds, or null.</summary>
    public double? SpeedupVsScipy { get; init; }
    /// <summary>Extra: why scipy_seconds is null.</summary>
    public string? ScipyNote { get; init; }
    /// <summary>Extra: largest |C# − scipy| over features, per statistic (p-values absolute, others relative).</summary>
    public IReadOnlyDictionary<string, double>? MaxDifferenceVsScipy { get; init; }
    /// <summary>Extra: worker threads used.</summary>
    public int Threads { get; init; }
    /// <summary>Extra: seed.</summary>
    public int Seed { get; init; }
    /// <summary>Extra: features whose KS p-value &lt; 0.05 (half the features are shifted).</summary>
    public int DriftedFeatures { get; init; }

    /// <summary>snake_case JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    });
}

/// <summary>
/// KS + PSI + Wasserstein + JS over synthetic numeric features, timed, and the same
/// statistics by scipy (a /usr/bin/python3 subprocess reading the same float32 file).
/// </summary>
public static class DriftBenchmark
{
    /// <summary>Seeded synthetic columns: feature f of the reference and of the current data.</summary>
    public static (float[][] Reference, float[][] Current) GenerateData(DriftBenchOptions o)
    {
        var reference = new float[o.Features][];
        var current = new float[o.Features][];
        Parallel.For(0, o.Features, f =>
        {
            var rng = new Random(unchecked(o.Seed * 1_000_003 + f)); // deterministic across processes
            // Mixed shapes: normal, lognormal, rounded (ties), uniform; odd features shift.
            int shape = f % 4;
            bool shifted = f % 2 == 1;
            reference[f] = Column(rng, o.ReferenceRows, shape, 0.0);
            current[f] = Column(rng, o.CurrentRows, shape, shifted ? 0.02 + 0.002 * f : 0.0);
        });
        return (reference, current);
    }

    private static float[] Column(Random rng, int n, int shape, double shift)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double z = Normal(rng);
            x[i] = shape switch
            {
                0 => (float)(z + shift),
                1 => (float)Math.Exp(0.5 * z + shift),
                2 => (float)Math.Round(10 * (z + shift)),
                _ => (float)(rng.NextDouble() + shift),
            };
        }
        return x;
    }

    private static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The four statistics per feature, features in parallel (one sort buffer per worker).</summary>
    public static NumericStatistics[] ComputeAll(float[][] reference, float[][] current)
    {
        int m = reference.Length;
        var results = new NumericStatistics[m];
        Parallel.For(0, m,
            () => (new double[0], new double[0], new float[0]),
            (f, _, buffers) =>
            {
                var (rb, cb, fb) = buffers;
                if (rb.Length < reference[f].Length) rb = new double[reference[f].Length];
                if (cb.Length < current[f].Length) cb = new double[current[f].Length];
                int longest = Math.Max(reference[f].Length, current[f].Length);
                if (fb.Length < longest) fb = new float[longest];
                // Sort as float32 (half the memory traffic of double keys), then widen.
                int nr = SortedFinite(reference[f], fb, rb);
                int nc = SortedFinite(current[f], fb, cb);
                results[f] = NumericDrift.Compare(rb.AsSpan(0, nr), cb.AsSpan(0, nc));
                return (rb, cb, fb);
            },
            _ => { });
        return results;
    }

    private static int SortedFinite(float[] src, float[] scratch, double[] dst)
    {
        int k = 0;
        foreach (float v in src)
        {
            if (float.IsFinite(v)) scratch[k++] = v;
        }
        var s = scratch.AsSpan(0, k);
        RadixSort.Sort(s);
        for (int i = 0; i < k; i++) dst[i] = s[i];
        return k;
    }

    /// <summary>Runs the benchmark. <paramref name="log"/> receives progress lines.</summary>
    public static DriftBenchResult Run(DriftBenchOptions o, Action<string>? log = null)
    {
        log ??= _ => { };
        log($"generating {o.Features} features x ({o.ReferenceRows} reference + {o.CurrentRows} current) rows, seed {o.Seed}");
        var (reference, current) = GenerateData(o);

        // Warm-up on a slice so JIT time is not billed to the measurement.
        ComputeAll([reference[0][..Math.Min(5000, o.ReferenceRows)]], [current[0][..Math.Min(5000, o.CurrentRows)]]);
        var sw = Stopwatch.StartNew();
        var stats = ComputeAll(reference, current);
        double seconds = sw.Elapsed.TotalSeconds;
        log($"C#: {seconds:F3} s, {o.CurrentRows / seconds:N0} current rows/s");

        double? scipySeconds = null;
        string? note = null;
        Dictionary<string, double>? diffs = null;
        if (!o.RunScipy)
        {
            note = "scipy comparison disabled";
        }
        else
        {
            (scipySeconds, note, diffs) = RunScipy(o, reference, current, stats, log);
        }
        return new DriftBenchResult
        {
            Features = o.Features,
            ReferenceRows = o.ReferenceRows,
            CurrentRows = o.CurrentRows,
            Seconds = seconds,
            RowsPerSecond = o.CurrentRows / seconds,
            ScipySeconds = scipySeconds,
            SpeedupVsScipy = scipySeconds / seconds,
            ScipyNote = note,
            MaxDifferenceVsScipy = diffs,
            Threads = Environment.ProcessorCount,
            Seed = o.Seed,
            DriftedFeatures = stats.Count(s => s.Ks.PValue < 0.05),
        };
    }

    private static (double? Seconds, string? Note, Dictionary<string, double>? Diffs) RunScipy(
        DriftBenchOptions o, float[][] reference, float[][] current, NumericStatistics[] stats, Action<string> log)
    {
        if (!File.Exists(o.Python)) return (null, $"{o.Python} not found", null);
        if (!ProbeScipy(o.Python)) return (null, $"{o.Python} has no scipy (apt-get install python3-scipy)", null);
        string dir = Path.Combine(Path.GetTempPath(), "drift-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string data = Path.Combine(dir, "data.f32");
            using (var fs = new FileStream(data, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                foreach (var col in reference) fs.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(col.AsSpan()));
                foreach (var col in current) fs.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(col.AsSpan()));
            }
            string script = Path.Combine(dir, "scipy_bench.py");
            File.WriteAllText(script, ScipyScript);
            string outJson = Path.Combine(dir, "scipy.json");
            var psi = new ProcessStartInfo(o.Python)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
                     {
                         script, data, o.Features.ToString(CultureInfo.InvariantCulture),
                         o.ReferenceRows.ToString(CultureInfo.InvariantCulture),
                         o.CurrentRows.ToString(CultureInfo.InvariantCulture), outJson,
                     })
            {
                psi.ArgumentList.Add(a);
            }
            log($"scipy: running {o.Python} on the same data (timeout {o.ScipyTimeout.TotalSeconds:F0} s)");
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start python");
            var stderr = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(o.ScipyTimeout))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                return (null, $"scipy exceeded --scipy-timeout {o.ScipyTimeout.TotalSeconds:F0} s", null);
            }
            if (p.ExitCode != 0 || !File.Exists(outJson))
            {
                return (null, $"scipy run failed (exit {p.ExitCode}): {stderr.Result.Trim()}", null);
            }
            using var doc = JsonDocument.Parse(File.ReadAllText(outJson));
            double secs = doc.RootElement.GetProperty("seconds").GetDouble();
            var diffs = new Dictionary<string, double>
            {
                ["ks_statistic"] = 0, ["ks_p_value"] = 0, ["psi"] = 0, ["wasserstein"] = 0, ["jensen_shannon"] = 0,
            };
            int f = 0;
            foreach (var row in doc.RootElement.GetProperty("features").EnumerateArray())
            {
                var s = stats[f++];
                Max(diffs, "ks_statistic", Rel(row.GetProperty("ks").GetDouble(), s.Ks.Statistic));
                Max(diffs, "ks_p_value", Math.Abs(row.GetProperty("p").GetDouble() - s.Ks.PValue));
                Max(diffs, "psi", Rel(row.GetProperty("psi").GetDouble(), s.Psi));
                Max(diffs, "wasserstein", Rel(row.GetProperty("w").GetDouble(), s.Wasserstein));
                Max(diffs, "jensen_shannon", Rel(row.GetProperty("js").GetDouble(), s.JensenShannon));
            }
            log($"scipy: {secs:F1} s");
            return (secs, null, diffs);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static double Rel(double expected, double actual) =>
        expected == actual ? 0 : Math.Abs(expected - actual) / Math.Max(Math.Abs(expected), 1e-300);

    private static void Max(Dictionary<string, double> d, string k, double v)
    {
        if (v > d[k]) d[k] = v;
    }

    private static bool ProbeScipy(string python)
    {
        try
        {
            var psi = new ProcessStartInfo(python) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import scipy.stats, scipy.spatial");
            using var p = Process.Start(psi);
            if (p is null) return false;
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                p.Kill(true);
                return false;
            }
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>The scipy side: the same definitions as tools/drift-fixtures/generate.py.</summary>
    public const string ScipyScript = """
import json, sys, time
import numpy as np
from scipy import stats
from scipy.spatial import distance

path, m, nr, nc, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
raw = np.fromfile(path, dtype=np.float32)
ref = raw[: m * nr].reshape(m, nr).astype(np.float64)
cur = raw[m * nr:].reshape(m, nc).astype(np.float64)
del raw
qs = [k / 10.0 for k in range(1, 10)]
rows = []
t0 = time.perf_counter()
for f in range(m):
    r, c = ref[f], cur[f]
    ks = stats.ks_2samp(r, c)
    w = stats.wasserstein_distance(r, c)
    e = np.unique(np.quantile(r, qs))
    rp = np.bincount(np.searchsorted(e, r, side="left"), minlength=len(e) + 1) / r.size
    cp = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1) / c.size
    rf, cf = np.maximum(rp, 1e-4), np.maximum(cp, 1e-4)
    psi = float(np.sum((cf - rf) * np.log(cf / rf)))
    js = float(distance.jensenshannon(rp, cp, base=2))
    rows.append({"ks": float(ks.statistic), "p": float(ks.pvalue), "w": float(w), "psi": psi, "js": js})
secs = time.perf_counter() - t0
with open(out, "w") as fh:
    json.dump({"seconds": secs, "features": rows}, fh)
""";
}
