using System.Diagnostics;
using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;

namespace Pipeline.Cli.Benchmarks;

/// <summary>Inputs of <c>bench detect</c>. The monitor settings are the DriftDetection service's defaults.</summary>
public sealed record DetectBenchmarkOptions
{
    public int Seeds { get; init; } = 1;
    public int CleanWindows { get; init; } = 500;
    /// <summary>Clean windows before each shift's onset.</summary>
    public int LeadWindows { get; init; } = 4;
    /// <summary>Shifted windows streamed after the onset (the stream stops early when a run starts).</summary>
    public int ShiftWindows { get; init; } = 12;
    /// <summary>Windows over which the gradual drift ramps from none to its full severity (then holds it as long again).</summary>
    public int GradualWindows { get; init; } = 24;
    public int WindowRows { get; init; } = 500;
    public double MinAccuracyDrop { get; init; } = 0.02;
    public IReadOnlyList<string> Scenarios { get; init; } =
    [
        "rotate-5", "rotate-10", "rotate-30", "noise-0.05", "noise-0.1", "noise-0.3",
        "contrast-0.8", "contrast-0.7", "contrast-0.5", "contrast-0.3", "blur-1", "blur-1.5", "prior-shift-0.1",
    ];
    /// <summary>Full severity of the gradual drift (a rotation).</summary>
    public double GradualDegrees { get; init; } = 30;
    public string? DataDirectory { get; init; }
    public string? CacheDirectory { get; init; }
}

/// <summary>
/// <c>bench detect</c>: production traffic streamed through the drift monitor and the trigger policy at
/// library level (no broker). The base model is the demo's (cnn-small, 2 epochs on 20k images, cached);
/// its drift reference and calibration holdout are the ones the demo registers. Traffic is drawn with
/// replacement from images no stage trained on, clean or shifted; the true accuracy of every row is
/// known, the monitor never sees a label.
/// </summary>
public static class DetectBenchmark
{
    public static DetectBenchmarkResult Run(DetectBenchmarkOptions o, Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Seeds < 1 || o.CleanWindows < 1 || o.LeadWindows < 1 || o.ShiftWindows < 2 || o.GradualWindows < 2 || o.WindowRows < 30)
            throw new ArgumentException("seeds, windows and window rows must be positive (shift and gradual windows at least 2, window rows at least 30)");
        var scenarios = o.Scenarios.Select(DriftScenario.Parse).ToList();
        var total = Stopwatch.StartNew();
        var clean = new CleanResult();
        var shifts = new List<ShiftResult>();
        var calibrations = new List<CalibrationResult>();
        for (int seed = 1; seed <= o.Seeds; seed++)
        {
            ct.ThrowIfCancellationRequested();
            using var run = SeedRun.Create(seed, o, log);
            calibrations.Add(run.CalibrationSummary());
            log?.Invoke($"seed {seed}: clean stream of {o.CleanWindows} windows");
            var watch = Stopwatch.StartNew();
            var c = run.Clean(o.CleanWindows);
            log?.Invoke($"seed {seed}: clean: {c.DriftedWindows} drifted windows, {c.FalseAlarms} confirmed, {c.Runs} runs, " +
                $"true accuracy {c.TrueAccuracy * 100:0.0} %, estimated {c.EstimatedAccuracy * 100:0.0} % ({watch.Elapsed.TotalSeconds:0} s)");
            clean = clean.Add(c);
            foreach (var s in scenarios)
            {
                ct.ThrowIfCancellationRequested();
                var r = run.Shift(s, o.LeadWindows, o.ShiftWindows);
                log?.Invoke($"seed {seed}: {r.Scenario}: true drop {r.AccuracyDrop * 100:0.0} pts, estimated {r.EstimatedDrop * 100:0.0}, " +
                    $"{(r.Detected ? $"drift after {r.DelayRows} rows" : "no drift")}, {(r.RunStarted ? $"run after {r.RunDelayRows} rows" : "no run")} [{r.Trace}]");
                shifts.Add(r);
            }
            var g = run.Gradual(o.GradualDegrees, o.LeadWindows, o.GradualWindows);
            log?.Invoke($"seed {seed}: {g.Scenario}: final drop {g.AccuracyDrop * 100:0.0} pts, {(g.RunStarted ? $"run after {g.RunDelayRows} rows" : "no run")} [{g.Trace}]");
            shifts.Add(g);
        }
        return new DetectBenchmarkResult
        {
            Seeds = o.Seeds, WindowRows = o.WindowRows, MinAccuracyDrop = o.MinAccuracyDrop,
            Calibration = calibrations, Clean = clean, Shifts = shifts,
            Targets = Targets.Evaluate(clean, shifts, o.WindowRows),
            TotalSeconds = total.Elapsed.TotalSeconds,
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
        };
    }

    /// <summary>Rows of one traffic source: the model's outputs are computed once, rows are drawn from it.</summary>
    internal sealed class Pool
    {
        public required Observation[] Rows { get; init; }
        public required bool[] Correct { get; init; }
        public double Accuracy => Correct.Count(c => c) / (double)Correct.Length;

        public static Pool Of(ModelBundle model, ImageDataset data)
        {
            var features = data.ToFeatureVectors();
            var labels = data.LabelArray();
            var predicted = model.Predict(features);
            var embedded = model.Embed(features);
            var rows = new Observation[features.Length];
            var correct = new bool[features.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                var p = predicted[i];
                rows[i] = new Observation(features[i], p.Class, p.Probabilities[p.Class], null, embedded[i]);
                correct[i] = p.Class == labels[i];
            }
            return new Pool { Rows = rows, Correct = correct };
        }

        public (Observation[] Rows, int Correct) Draw(Random rng, int n)
        {
            var batch = new Observation[n];
            int right = 0;
            for (int i = 0; i < n; i++)
            {
                int k = rng.Next(Rows.Length);
                batch[i] = Rows[k];
                if (Correct[k]) right++;
            }
            return (batch, right);
        }
    }
}
