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
    /// <summary>The first seed (seeds run FirstSeed .. FirstSeed + Seeds − 1).</summary>
    public int FirstSeed { get; init; } = 1;
    /// <summary>Tabular shifts (generated rows, an over-confident MLP); empty: none.</summary>
    public IReadOnlyList<string> TabularShifts { get; init; } = TabularWorld.Shifts;
    /// <summary>Windows of the tabular clean stream.</summary>
    public int TabularCleanWindows { get; init; } = 100;
    /// <summary>False: only the tabular streams (no Fashion-MNIST model, clean stream, shifts or gradual drift).</summary>
    public bool ImageStreams { get; init; } = true;
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
    /// <summary>
    /// Architecture of the witness, a second model trained like the base one with another seed, for the agreement
    /// estimators (measured beside the product's, not used by it); null: no witness.
    /// </summary>
    public string? Witness { get; init; } = "cnn-small";
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
        if (o.Seeds < 1 || o.FirstSeed < 1 || o.CleanWindows < 1 || o.TabularCleanWindows < 1 || o.LeadWindows < 1 || o.ShiftWindows < 2 || o.GradualWindows < 2 || o.WindowRows < 30)
            throw new ArgumentException("seeds, windows and window rows must be positive (shift and gradual windows at least 2, window rows at least 30)");
        var scenarios = o.Scenarios.Select(DriftScenario.Parse).ToList();
        if (o.Witness is { } w && !Pipeline.ML.Models.ModelFactory.Architectures.Contains(w))
            throw new ArgumentException($"unknown witness architecture '{w}' ({string.Join(", ", Pipeline.ML.Models.ModelFactory.Architectures)} or none)");
        if (o.TabularShifts.FirstOrDefault(t => !TabularWorld.Shifts.Contains(t)) is { } unknown)
            throw new ArgumentException($"unknown tabular shift '{unknown}' ({string.Join(", ", TabularWorld.Shifts)})");
        var total = Stopwatch.StartNew();
        var clean = new CleanResult();
        var shifts = new List<ShiftResult>();
        var calibrations = new List<CalibrationResult>();
        var tabularClean = new CleanResult();
        for (int seed = o.FirstSeed; seed < o.FirstSeed + o.Seeds; seed++)
        {
            ct.ThrowIfCancellationRequested();
            if (o.ImageStreams) ImageSeed(seed, o, log, scenarios, calibrations, shifts, ref clean, ct);
            if (o.TabularShifts.Count > 0)
            {
                using var tab = TabularWorld.CreateRun(seed, o, log);
                calibrations.Add(tab.CalibrationSummary() with { Stream = "tabular" });
                var tc = tab.Clean(o.TabularCleanWindows);
                log?.Invoke($"seed {seed}: tabular clean: {tc.DriftedWindows} drifted windows, {tc.Runs} runs, true accuracy {tc.TrueAccuracy * 100:0.0} %, estimated {tc.EstimatedAccuracy * 100:0.0} % | {Errors(tc.Estimators)}");
                tabularClean = tabularClean.Add(tc);
                var rng = new Random(seed * 6007 + 3);
                foreach (var name in o.TabularShifts)
                {
                    ct.ThrowIfCancellationRequested();
                    var test = TabularWorld.Generate(8000, rng);
                    var r = tab.ShiftOn(name, tab.PoolOf(TabularWorld.Shift(test, name, rng)), o.LeadWindows, o.ShiftWindows);
                    log?.Invoke($"seed {seed}: {r.Scenario}: true drop {r.AccuracyDrop * 100:0.0} pts, estimated {r.EstimatedDrop * 100:0.0}, " +
                        $"{(r.RunStarted ? $"run after {r.RunDelayRows} rows" : "no run")} [{r.Trace}] | {Errors(r.Estimators)}");
                    shifts.Add(r);
                }
            }
        }
        return new DetectBenchmarkResult
        {
            Seeds = o.Seeds, WindowRows = o.WindowRows, MinAccuracyDrop = o.MinAccuracyDrop, FirstSeed = o.FirstSeed,
            Estimator = new TriggerOptions().Estimator, CrossCheck = [.. new TriggerOptions().CrossCheck],
            Calibration = calibrations, Clean = clean, TabularClean = tabularClean, Shifts = shifts,
            Targets = Targets.Evaluate(clean, shifts, o.WindowRows),
            TotalSeconds = total.Elapsed.TotalSeconds,
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
        };
    }

    private static void ImageSeed(int seed, DetectBenchmarkOptions o, Action<string>? log, List<DriftScenario> scenarios,
        List<CalibrationResult> calibrations, List<ShiftResult> shifts, ref CleanResult clean, CancellationToken ct)
    {
        using var run = SeedRun.Create(seed, o, log);
        calibrations.Add(run.CalibrationSummary());
        log?.Invoke($"seed {seed}: clean stream of {o.CleanWindows} windows");
        var watch = Stopwatch.StartNew();
        var c = run.Clean(o.CleanWindows);
        log?.Invoke($"seed {seed}: clean: {c.DriftedWindows} drifted windows, {c.FalseAlarms} confirmed, {c.Runs} runs, " +
            $"true accuracy {c.TrueAccuracy * 100:0.0} %, estimated {c.EstimatedAccuracy * 100:0.0} % ({watch.Elapsed.TotalSeconds:0} s) | {Errors(c.Estimators)}");
        clean = clean.Add(c);
        foreach (var s in scenarios)
        {
            ct.ThrowIfCancellationRequested();
            var r = run.Shift(s, o.LeadWindows, o.ShiftWindows);
            log?.Invoke($"seed {seed}: {r.Scenario}: true drop {r.AccuracyDrop * 100:0.0} pts, estimated {r.EstimatedDrop * 100:0.0}, " +
                $"{(r.Detected ? $"drift after {r.DelayRows} rows" : "no drift")}, {(r.RunStarted ? $"run after {r.RunDelayRows} rows" : "no run")} [{r.Trace}] | {Errors(r.Estimators)}");
            shifts.Add(r);
        }
        var g = run.Gradual(o.GradualDegrees, o.LeadWindows, o.GradualWindows);
        log?.Invoke($"seed {seed}: {g.Scenario}: final drop {g.AccuracyDrop * 100:0.0} pts, {(g.RunStarted ? $"run after {g.RunDelayRows} rows" : "no run")} [{g.Trace}] | {Errors(g.Estimators)}");
        shifts.Add(g);
    }

    /// <summary>Every estimator's error on a stream, for the log.</summary>
    internal static string Errors(IEnumerable<EstimatorError> e) =>
        string.Join(", ", e.Select(x => $"{x.Estimator} {x.Error * 100:+0.0;-0.0;0.0}"));

    /// <summary>Rows of one traffic source: the model's outputs are computed once, rows are drawn from it.</summary>
    internal sealed class Pool
    {
        public required Observation[] Rows { get; init; }
        public required bool[] Correct { get; init; }
        /// <summary>Negative entropy of each row's class probabilities (ATC-NE's score).</summary>
        public double[]? NegativeEntropy { get; init; }
        /// <summary>True labels (the monitor never sees them; calibration does).</summary>
        public int[]? Labels { get; init; }
        /// <summary>The witness model's predicted class per row (an independently trained second model).</summary>
        public int[]? Witness { get; init; }
        public double Accuracy => Correct.Count(c => c) / (double)Correct.Length;

        /// <summary>The rows with their labels, as a labelled reference holdout.</summary>
        public List<Observation> Labelled() => Rows.Select((r, i) => r with { Label = Labels![i] }).ToList();

        public static Pool Concat(Pool a, Pool b) => new()
        {
            Rows = [.. a.Rows, .. b.Rows], Correct = [.. a.Correct, .. b.Correct],
            NegativeEntropy = a.NegativeEntropy is null || b.NegativeEntropy is null ? null : [.. a.NegativeEntropy, .. b.NegativeEntropy],
            Labels = a.Labels is null || b.Labels is null ? null : [.. a.Labels, .. b.Labels],
            Witness = a.Witness is null || b.Witness is null ? null : [.. a.Witness, .. b.Witness],
        };

        /// <summary>Share of rows where the model and the witness predict the same class.</summary>
        public double Agreement => Witness is null ? double.NaN : Enumerable.Range(0, Rows.Length).Count(i => Rows[i].PredictedClass == Witness[i]) / (double)Rows.Length;

        public static Pool Of(ModelBundle model, ImageDataset data, ModelBundle? witness = null)
        {
            var features = data.ToFeatureVectors();
            var labels = data.LabelArray();
            // One pass, as Inference serves production rows and DriftDetection builds reference profiles.
            var (predicted, embedded) = model.Serve(features);
            var rows = new Observation[features.Length];
            var correct = new bool[features.Length];
            var ne = new double[features.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                var p = predicted[i];
                rows[i] = new Observation(features[i], p.Class, p.Probabilities[p.Class], null, embedded[i]);
                correct[i] = p.Class == labels[i];
                ne[i] = AtcThreshold.NegativeEntropy(p.Probabilities);
            }
            int[]? second = witness?.Serve(features).Predictions.Select(p => p.Class).ToArray();
            return new Pool { Rows = rows, Correct = correct, NegativeEntropy = ne, Labels = labels.Select(l => (int)l).ToArray(), Witness = second };
        }

        public int[] DrawIndices(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(Rows.Length)).ToArray();

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
