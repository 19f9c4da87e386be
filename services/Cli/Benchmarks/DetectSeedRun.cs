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
    private readonly FashionMnistSplits? _splits;
    private readonly ModelBundle? _model;
    private readonly ModelBundle? _witness;
    private readonly WitnessCalibration? _agreement;
    private readonly IDisposable? _owned;
    private readonly ReferenceProfile _profile;
    private readonly MonitorOptions _monitor;
    private readonly Pool _clean;
    private readonly AtcThreshold? _atcNe;
    private readonly Action<string>? _log;

    /// <summary>Windows each estimator is measured on per stream (the trigger pools at most 8).</summary>
    public const int EstimateWindows = 8;

    /// <summary>The witness trains with the run's seed plus this.</summary>
    public const int WitnessSeedOffset = 1000;

    internal SeedRun(int seed, DetectBenchmarkOptions o, FashionMnistSplits? splits, ModelBundle? model, ReferenceProfile profile, Pool clean,
        Pool holdout, Action<string>? log, IDisposable? owned = null, ModelBundle? witness = null)
    {
        _witness = witness;
        _agreement = holdout.Witness is null ? null : new WitnessCalibration(holdout.Accuracy, holdout.Agreement);
        _seed = seed;
        _o = o;
        _splits = splits;
        _model = model;
        _owned = owned;
        _profile = profile;
        _clean = clean;
        _log = log;
        profile.Performance = ConfidenceCalibration.Fit(holdout.Labelled(), profile.Summary);
        _atcNe = holdout.NegativeEntropy is { } ne ? AtcThreshold.Fit(ne, holdout.Correct) : null;
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
        // The witness: the same recipe with another seed (initialisation and batch order), for the agreement estimators.
        ModelBundle? witness = null;
        if (o.Witness is { } arch)
        {
            (witness, var witnessCached) = BaseTrainer.TrainOrLoad(splits.Train,
                new BaseTrainingOptions { Architecture = arch, Epochs = 2, TrainSize = 20000, Seed = seed + WitnessSeedOffset }, o.CacheDirectory);
            log?.Invoke($"seed {seed}: witness model ({arch}) {(witnessCached ? "loaded from cache" : "trained")}");
        }
        using var driftReference = splits.Validation.Take(3000);
        var reference = Pool.Of(model, driftReference);
        var profile = ReferenceProfile.Build("bench", 1, reference.Rows, new ProfileOptions { Summary = InputSummary.Image(), Seed = 1 });
        var holdout = Pool.Of(model, splits.ReferenceHoldout, witness);
        // Production traffic: training images the base model never saw, and the test split.
        using var unseen = splits.Train.Slice(20000, splits.Train.Count - 20000);
        var clean = Pool.Concat(Pool.Of(model, unseen, witness), Pool.Of(model, splits.Test, witness));
        return new SeedRun(seed, o, splits, model, profile, clean, holdout, log, witness: witness);
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
        int drifted = 0, confirmed = 0, runs = 0;
        for (int w = 0; w < windows; w++)
        {
            var (rows, _) = _clean.Draw(rng, _o.WindowRows);
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
        var tally = Estimators(_ => _clean, 2 * EstimateWindows, new Random(_seed * 7919 + 2));
        return new CleanResult
        {
            Windows = windows, Rows = windows * _o.WindowRows, DriftedWindows = drifted, FalseAlarms = confirmed, Runs = runs,
            TrueAccuracy = tally.TrueAccuracy, EstimatedAccuracy = tally.Product(), PoolAccuracy = _clean.Accuracy,
            Estimators = tally.Results(),
        };
    }

    public ShiftResult Shift(DriftScenario scenario, int lead, int after)
    {
        using var source = _splits!.Test.Shuffle(_seed + 31);
        using var shifted = scenario.Apply(source, _seed + 100);
        return ShiftOn(scenario.Name, Pool.Of(_model!, shifted, _witness), lead, after);
    }

    /// <summary>A stream of clean lead windows, then windows drawn from <paramref name="pool"/>.</summary>
    public ShiftResult ShiftOn(string name, Pool pool, int lead, int after)
    {
        var r = Stream(name, lead, after, _ => pool);
        var tally = Estimators(_ => pool, EstimateWindows, new Random(_seed * 15485863 + name.Length * 131 + name[^1]));
        double estimated = tally.Product();
        return r with
        {
            AccuracyDrop = _clean.Accuracy - pool.Accuracy,
            TrueAccuracy = tally.TrueAccuracy,
            EstimatedAccuracy = estimated,
            EstimatedDrop = _profile.Performance!.ReferenceAccuracy - estimated,
            Estimators = tally.Results(),
        };
    }

    /// <summary>Tabular rows as a pool of this run's model (the MLP).</summary>
    public Pool PoolOf(TabularWorld.Rows rows) => ((TabularMlp)_owned!).Pool(rows);

    private EstimatorTally Estimators(Func<int, Pool> pool, int windows, Random rng) =>
        EstimatorTally.Over(_profile.Performance!, _atcNe, _agreement, _profile.Summary, pool, windows, _o.WindowRows, rng);

    /// <summary>A rotation growing from 0 to full over <paramref name="ramp"/> windows, then held as long again.</summary>
    public ShiftResult Gradual(double degrees, int lead, int ramp)
    {
        const int levels = 12;
        using var source = _splits!.Test.Shuffle(_seed + 37);
        using var part = source.Take(4000);
        var pools = new Pool[levels + 1];
        for (int l = 0; l <= levels; l++)
        {
            using var rotated = new DriftScenario("rotate", degrees * l / levels).Apply(part, _seed + 100);
            pools[l] = Pool.Of(_model!, rotated, _witness);
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
        // Estimators on the whole ramp and hold (what the stream would show if no run stopped it).
        var tally = Estimators(k => pools[Level(k)], 2 * ramp, new Random(_seed * 15485863 + 7));
        return r with
        {
            AccuracyDrop = _clean.Accuracy - last.Accuracy,
            TrueAccuracy = tally.TrueAccuracy,
            EstimatedAccuracy = tally.Product(),
            EstimatedDrop = _profile.Performance!.ReferenceAccuracy - tally.Product(),
            Estimators = tally.Results(),
            HarmOnsetRows = harmWindow is { } h ? (h - 1) * _o.WindowRows : null,
        };
    }

    private ShiftResult Stream(string name, int lead, int after, Func<int, Pool> shiftedPool)
    {
        var monitor = new DriftMonitor(_profile, _monitor);
        var rng = new Random(_seed * 104729 + name.Length * 31 + name[^1]);
        int? detected = null, started = null;
        int rows0 = 0, right = 0;
        WindowReport? decision = null, run = null;
        int? labelsNeeded = null;
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
            rows0 += rows.Length;
            right += correct;
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
                    TriggerOutcome.LabelsNeeded => 'L',
                    TriggerOutcome.TooFewRows => 'r',
                    _ => '?',
                });
                bool confirmed = report.Trigger?.Outcome is TriggerOutcome.DriftWithHarm or TriggerOutcome.DriftWithoutHarm or TriggerOutcome.HarmUnknown
                    or TriggerOutcome.AwaitingLabels or TriggerOutcome.LabelsNeeded or TriggerOutcome.TooFewRows;
                if (confirmed && detected is null)
                {
                    detected = k * _o.WindowRows;
                    decision = report;
                }
                if (report.Trigger?.Outcome == TriggerOutcome.LabelsNeeded && labelsNeeded is null)
                {
                    labelsNeeded = k * _o.WindowRows;
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
            RunDelayRows = started, RowsStreamed = rows0, LeadRun = leadRun, Trace = trace.ToString(), LabelsNeededRows = labelsNeeded,
            StreamTrueAccuracy = rows0 > 0 ? (double)right / rows0 : double.NaN,
            DecisionEstimatedDrop = last?.Performance?.EstimatedDrop,
            Decision = last?.Trigger?.Outcome ?? TriggerOutcome.NoDrift,
            Reason = last?.Trigger?.Reason ?? "no window confirmed drift",
        };
    }

    public void Dispose()
    {
        _model?.Dispose();
        _witness?.Dispose();
        _splits?.Dispose();
        _owned?.Dispose();
        _log?.Invoke($"seed {_seed}: done");
    }
}
