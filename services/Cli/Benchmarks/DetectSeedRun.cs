using Pipeline.Drift.Monitoring;
using Pipeline.Drift.Performance;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using static Pipeline.Cli.Benchmarks.DetectBenchmark;

namespace Pipeline.Cli.Benchmarks;

/// <summary>One seed of <c>bench detect</c>: data, base model, reference profile with its calibration, traffic pools.</summary>
internal sealed class SeedRun : IDisposable
{
    private readonly int _seed;
    private readonly DetectBenchmarkOptions _o;
    private readonly FashionMnistSplits _splits;
    private readonly ModelBundle _model;
    private readonly ReferenceProfile _profile;
    private readonly MonitorOptions _monitor;
    private readonly Pool _clean;
    private readonly Action<string>? _log;

    private SeedRun(int seed, DetectBenchmarkOptions o, FashionMnistSplits splits, ModelBundle model, ReferenceProfile profile, Pool clean, Action<string>? log)
    {
        _seed = seed;
        _o = o;
        _splits = splits;
        _model = model;
        _profile = profile;
        _clean = clean;
        _log = log;
        // DriftDetectionOptions' defaults (services/DriftDetection): 500-row tumbling windows, 2 to confirm.
        _monitor = new MonitorOptions
        {
            WindowSize = o.WindowRows, ConsecutiveWindowsToRaise = 2, Seed = 1,
            Trigger = new TriggerOptions { MinAccuracyDrop = o.MinAccuracyDrop },
        };
    }

    public static SeedRun Create(int seed, DetectBenchmarkOptions o, Action<string>? log)
    {
        var splits = FashionMnist.LoadSplits(seed, o.DataDirectory);
        // The demo's base model (same options, same cache entry).
        var (model, cached) = BaseTrainer.TrainOrLoad(splits.Train,
            new BaseTrainingOptions { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = seed }, o.CacheDirectory);
        log?.Invoke($"seed {seed}: base model {(cached ? "loaded from cache" : "trained")}");
        using var driftReference = splits.Validation.Take(3000);
        var reference = Pool.Of(model, driftReference);
        var profile = ReferenceProfile.Build("bench", 1, reference.Rows, new ProfileOptions { Summary = InputSummary.Image(), Seed = 1 });
        var holdout = Pool.Of(model, splits.ReferenceHoldout);
        profile.Performance = ConfidenceCalibration.Fit(holdout.Rows.Select(r => (double)r.Confidence).ToList(), holdout.Correct);
        // Production traffic: training images the base model never saw, and the test split.
        using var unseen = splits.Train.Slice(20000, splits.Train.Count - 20000);
        var a = Pool.Of(model, unseen);
        var b = Pool.Of(model, splits.Test);
        var clean = new Pool { Rows = [.. a.Rows, .. b.Rows], Correct = [.. a.Correct, .. b.Correct] };
        return new SeedRun(seed, o, splits, model, profile, clean, log);
    }

    public CalibrationResult CalibrationSummary()
    {
        var c = _profile.Performance!;
        return new CalibrationResult
        {
            Seed = _seed, Temperature = c.Temperature, Rows = c.Rows, ReferenceAccuracy = c.ReferenceAccuracy,
            ReferenceEstimatedAccuracy = c.ReferenceEstimatedAccuracy, MeanConfidence = c.ReferenceMeanConfidence,
            EceBefore = c.EceBefore, EceAfter = c.EceAfter,
        };
    }

    public CleanResult Clean(int windows)
    {
        var monitor = new DriftMonitor(_profile, _monitor);
        var rng = new Random(_seed * 7919 + 1);
        var tally = new Tally(_profile.Performance!);
        int drifted = 0, confirmed = 0, runs = 0;
        for (int w = 0; w < windows; w++)
        {
            var (rows, correct) = _clean.Draw(rng, _o.WindowRows);
            tally.Add(rows, correct);
            foreach (var report in monitor.Ingest(rows).Windows)
            {
                if (report.DatasetDrift) drifted++;
                if (report.Trigger?.Outcome is TriggerOutcome.DriftWithHarm or TriggerOutcome.DriftWithoutHarm or TriggerOutcome.HarmUnknown or TriggerOutcome.AwaitingLabels) confirmed++;
                if (report.Raise)
                {
                    runs++;
                    monitor.RunAbandoned();
                }
            }
        }
        return new CleanResult
        {
            Windows = windows, Rows = windows * _o.WindowRows, DriftedWindows = drifted, FalseAlarms = confirmed, Runs = runs,
            TrueAccuracy = tally.True, EstimatedAccuracy = tally.Estimated, PoolAccuracy = _clean.Accuracy,
        };
    }

    public ShiftResult Shift(DriftScenario scenario, int lead, int after)
    {
        using var source = _splits.Test.Shuffle(_seed + 31);
        using var shifted = scenario.Apply(source, _seed + 100);
        var pool = Pool.Of(_model, shifted);
        var r = Stream(scenario.Name, lead, after, _ => pool);
        double estimated = new Tally(_profile.Performance!).AddAll(pool).Estimated;
        return r with
        {
            AccuracyDrop = _clean.Accuracy - pool.Accuracy,
            TrueAccuracy = pool.Accuracy,
            EstimatedAccuracy = estimated,
            EstimatedDrop = _profile.Performance!.ReferenceEstimatedAccuracy - estimated,
        };
    }

    /// <summary>A rotation growing from 0 to full over <paramref name="ramp"/> windows, then held as long again.</summary>
    public ShiftResult Gradual(double degrees, int lead, int ramp)
    {
        const int levels = 12;
        using var source = _splits.Test.Shuffle(_seed + 37);
        using var part = source.Take(4000);
        var pools = new Pool[levels + 1];
        for (int l = 0; l <= levels; l++)
        {
            using var rotated = new DriftScenario("rotate", degrees * l / levels).Apply(part, _seed + 100);
            pools[l] = Pool.Of(_model, rotated);
        }
        int Level(int window) => (int)Math.Round(levels * Math.Min(1.0, (double)window / ramp));
        // Harm onset: the first window whose traffic costs 3 points or more.
        int? harmWindow = null;
        for (int k = 1; k <= 2 * ramp && harmWindow is null; k++)
        {
            if (_clean.Accuracy - pools[Level(k)].Accuracy >= 0.03) harmWindow = k;
        }
        var r = Stream($"gradual-rotate-0-{degrees:0}", lead, 2 * ramp, k => pools[Level(k)]);
        var last = pools[levels];
        return r with
        {
            AccuracyDrop = _clean.Accuracy - last.Accuracy,
            TrueAccuracy = r.StreamTrueAccuracy,
            EstimatedAccuracy = r.StreamEstimatedAccuracy,
            EstimatedDrop = _profile.Performance!.ReferenceEstimatedAccuracy - r.StreamEstimatedAccuracy,
            HarmOnsetRows = harmWindow is { } h ? (h - 1) * _o.WindowRows : null,
        };
    }

    private ShiftResult Stream(string name, int lead, int after, Func<int, Pool> shiftedPool)
    {
        var monitor = new DriftMonitor(_profile, _monitor);
        var rng = new Random(_seed * 104729 + name.Length * 31 + name[^1]);
        var tally = new Tally(_profile.Performance!);
        int? detected = null, started = null;
        WindowReport? decision = null, run = null;
        bool leadRun = false;
        var trace = new System.Text.StringBuilder();
        for (int w = 0; w < lead; w++)
        {
            foreach (var report in monitor.Ingest(_clean.Draw(rng, _o.WindowRows).Rows).Windows)
            {
                if (report.Raise) leadRun = true;
            }
        }
        for (int k = 1; k <= after && started is null; k++)
        {
            var (rows, correct) = shiftedPool(k).Draw(rng, _o.WindowRows);
            tally.Add(rows, correct);
            foreach (var report in monitor.Ingest(rows).Windows)
            {
                trace.Append(report.Trigger?.Outcome switch
                {
                    TriggerOutcome.NoDrift => '.',
                    TriggerOutcome.DriftPending => 'p',
                    TriggerOutcome.DriftWithoutHarm => 'w',
                    TriggerOutcome.DriftWithHarm => 'H',
                    TriggerOutcome.HarmUnknown => 'u',
                    TriggerOutcome.AwaitingLabels => 'l',
                    _ => '?',
                });
                bool confirmed = report.Trigger?.Outcome is TriggerOutcome.DriftWithHarm or TriggerOutcome.DriftWithoutHarm or TriggerOutcome.HarmUnknown or TriggerOutcome.AwaitingLabels;
                if (confirmed && detected is null)
                {
                    detected = k * _o.WindowRows;
                    decision = report;
                }
                if (report.Raise)
                {
                    started = k * _o.WindowRows;
                    run = report;
                }
            }
        }
        var last = run ?? decision;
        return new ShiftResult
        {
            Scenario = name, Seed = _seed, Detected = detected is not null, DelayRows = detected, RunStarted = started is not null,
            RunDelayRows = started, RowsStreamed = tally.Rows, LeadRun = leadRun, Trace = trace.ToString(),
            StreamTrueAccuracy = tally.True, StreamEstimatedAccuracy = tally.Estimated,
            DecisionEstimatedDrop = last?.Performance?.EstimatedDrop,
            Decision = last?.Trigger?.Outcome ?? TriggerOutcome.NoDrift,
            Reason = last?.Trigger?.Reason ?? "no window confirmed drift",
        };
    }

    public void Dispose()
    {
        _model.Dispose();
        _splits.Dispose();
        _log?.Invoke($"seed {_seed}: done");
    }

    /// <summary>True and estimated (CBPE) accuracy of the rows streamed.</summary>
    private sealed class Tally(ConfidenceCalibration calibration)
    {
        private double _estimated;
        private int _correct;
        public int Rows { get; private set; }
        public double True => Rows == 0 ? double.NaN : (double)_correct / Rows;
        public double Estimated => Rows == 0 ? double.NaN : _estimated / Rows;

        public void Add(Observation[] rows, int correct)
        {
            foreach (var r in rows) _estimated += calibration.Calibrate(r.Confidence);
            _correct += correct;
            Rows += rows.Length;
        }

        public Tally AddAll(Pool pool)
        {
            Add(pool.Rows, pool.Correct.Count(c => c));
            return this;
        }
    }
}
