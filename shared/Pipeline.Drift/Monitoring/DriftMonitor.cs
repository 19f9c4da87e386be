using System.Globalization;
using Pipeline.Drift.Performance;
using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Monitoring;

/// <summary>
/// Per-model streaming drift monitor: buffers accepted rows into tumbling or sliding windows,
/// evaluates each window against the <see cref="ReferenceProfile"/> when it closes, applies
/// hysteresis (N consecutive dataset-drifted windows), cooldown after an adaptation, and
/// suppression while a run is in flight or adaptation is paused. Thread-safe. Bad rows never
/// throw: they are rejected and counted, and every closed window yields a report (status
/// Error with the reason if evaluation itself fails). Only the constructor throws
/// (<see cref="DriftInputException"/>) for an invalid profile or options.
/// </summary>
public sealed class DriftMonitor
{
    private readonly object _gate = new();
    private readonly ReferenceProfile _profile;
    private readonly MonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly string[] _names;
    private readonly Observation[] _ring;
    private int _start;
    private int _count;
    private int _sinceEval;
    private int _rejectedPending;
    private readonly SortedDictionary<string, int> _problemsPending = new(StringComparer.Ordinal);
    private long _windowId;
    private int _consecutive;
    private bool _inFlight;
    private bool _paused;
    private DateTimeOffset? _cooldownUntil;
    private readonly PerformanceTracker _performance;
    private readonly TriggerPolicy _policy;

    /// <summary>Creates a monitor; throws <see cref="DriftInputException"/> for an invalid profile or options.</summary>
    public DriftMonitor(ReferenceProfile profile, MonitorOptions? options = null, TimeProvider? time = null, DriftMonitorState? state = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        _profile = profile;
        _options = options ?? new MonitorOptions();
        _options.Validate();
        _profile.Validate();
        _time = time ?? TimeProvider.System;
        _names = _profile.Features.Select(f => f.Name).ToArray();
        _ring = new Observation[_options.WindowSize];
        _performance = new PerformanceTracker(_profile.Performance, _options.Trigger);
        _policy = new TriggerPolicy(_options.Trigger);
        if (state is not null)
        {
            _windowId = state.LastWindowId;
            _consecutive = state.ConsecutiveDriftedWindows;
            _inFlight = state.RunInFlight;
            _paused = state.Paused;
            _cooldownUntil = state.CooldownUntil;
        }
    }

    /// <summary>The profile this monitor compares against.</summary>
    public ReferenceProfile Profile => _profile;

    /// <summary>Snapshot of the decision state (persist it to survive restarts).</summary>
    public DriftMonitorState State
    {
        get
        {
            lock (_gate) return new DriftMonitorState(_windowId, _consecutive, _inFlight, _paused, _cooldownUntil);
        }
    }

    /// <summary>Rows buffered toward the next window.</summary>
    public int BufferedRows
    {
        get
        {
            lock (_gate) return _count;
        }
    }

    /// <summary>An adaptation run started for this model: suppress raises until it finishes.</summary>
    public void RunStarted()
    {
        lock (_gate) _inFlight = true;
    }

    /// <summary>The run finished (deployed or rejected): start the cooldown, reset the hysteresis.</summary>
    public void AdaptationFinished()
    {
        lock (_gate)
        {
            _inFlight = false;
            _consecutive = 0;
            _performance.ResetStreak();
            _cooldownUntil = _time.GetUtcNow() + _options.Cooldown;
        }
    }

    /// <summary>The run failed or was cancelled: clear the in-flight flag without a cooldown.</summary>
    public void RunAbandoned()
    {
        lock (_gate) _inFlight = false;
    }

    /// <summary>
    /// Labels that came back for rows already ingested (feedback): <paramref name="correct"/> of
    /// <paramref name="labelled"/> predictions were right. They count toward the next window's observed accuracy.
    /// </summary>
    public void RecordFeedback(int labelled, int correct)
    {
        lock (_gate) _performance.AddFeedback(labelled, correct);
    }

    /// <summary>Operator paused adaptation: windows are still evaluated and reported, never raised.</summary>
    public void Pause()
    {
        lock (_gate) _paused = true;
    }

    /// <summary>Operator resumed adaptation.</summary>
    public void Resume()
    {
        lock (_gate) _paused = false;
    }

    /// <summary>
    /// Adds a batch. Rows that are null or have the wrong width are rejected (counted, reported);
    /// accepted rows fill the window; every window that closes is evaluated and returned.
    /// </summary>
    public IngestResult Ingest(IReadOnlyList<Observation?>? batch)
    {
        lock (_gate)
        {
            var windows = new List<WindowReport>();
            var problems = new SortedDictionary<string, int>(StringComparer.Ordinal);
            int accepted = 0, rejected = 0;
            if (batch is null)
            {
                Note(problems, "batch was null");
                return new IngestResult(0, 0, Render(problems), windows);
            }
            int width = _profile.Summary.InputWidth;
            foreach (var row in batch)
            {
                string? why = row is null || row.Features is null
                    ? "rejected: null row or null features"
                    : row.Features.Length != width
                        ? string.Create(CultureInfo.InvariantCulture, $"rejected: row has {row.Features.Length} columns, expected {width}")
                        : null;
                if (why is not null)
                {
                    rejected++;
                    _rejectedPending++;
                    Note(problems, why);
                    Note(_problemsPending, why);
                    continue;
                }
                accepted++;
                Push(row!);
                if (_count == _ring.Length && _sinceEval >= _options.Step)
                {
                    windows.Add(CloseWindow(partial: false));
                }
            }
            return new IngestResult(accepted, rejected, Render(problems), windows);
        }
    }

    /// <summary>
    /// Closes the rows gathered since the last evaluation as a partial window (e.g. at shutdown
    /// or on a timer). Fewer than MinWindowRows rows → an InsufficientData report. Returns no
    /// report when nothing new arrived.
    /// </summary>
    public IReadOnlyList<WindowReport> Flush()
    {
        lock (_gate)
        {
            if (_sinceEval == 0 && _rejectedPending == 0) return [];
            return [CloseWindow(partial: true)];
        }
    }

    private void Push(Observation row)
    {
        int idx = (_start + _count) % _ring.Length;
        if (_count == _ring.Length)
        {
            _ring[_start] = row;
            _start = (_start + 1) % _ring.Length;
        }
        else
        {
            _ring[idx] = row;
            _count++;
        }
        _sinceEval++;
    }

    private WindowReport CloseWindow(bool partial)
    {
        _windowId++;
        // A partial window holds the rows since the last evaluation; a full one the whole ring.
        int take = partial ? Math.Min(_sinceEval, _count) : _count;
        var rows = new Observation[take];
        for (int i = 0; i < take; i++) rows[i] = _ring[(_start + _count - take + i) % _ring.Length];
        var pending = new SortedDictionary<string, int>(_problemsPending, StringComparer.Ordinal);
        int rejected = _rejectedPending;
        _problemsPending.Clear();
        _rejectedPending = 0;
        _sinceEval = 0;
        if (_options.Window == WindowKind.Tumbling || partial)
        {
            _start = 0;
            _count = 0;
        }

        var baseReport = new WindowReport
        {
            WindowId = _windowId,
            ModelId = _profile.ModelId,
            ModelVersion = _profile.ModelVersion,
            ClosedAt = _time.GetUtcNow(),
            Rows = take,
            RejectedRows = rejected,
            Partial = partial,
            ConsecutiveDriftedWindows = _consecutive,
        };
        if (take < _options.MinWindowRows)
        {
            Note(pending, string.Create(CultureInfo.InvariantCulture,
                $"window has {take} accepted rows, fewer than MinWindowRows {_options.MinWindowRows}: not evaluated"));
            return baseReport with { Status = WindowStatus.InsufficientData, Problems = Render(pending) };
        }
        try
        {
            return Evaluate(rows, baseReport, pending);
        }
#pragma warning disable CA1031 // The monitor must never crash its host on data it did not anticipate.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Note(pending, $"evaluation failed: {e.GetType().Name}: {e.Message}");
            return baseReport with { Status = WindowStatus.Error, Problems = Render(pending) };
        }
    }

    private WindowReport Evaluate(Observation[] rows, WindowReport report, SortedDictionary<string, int> problems)
    {
        var columns = ReferenceProfile.Summarise(_profile.Summary, rows);
        int w = _profile.Features.Count;
        var partials = new (NumericStatistics? Num, CategoricalStatistics? Cat, int Count, int Excluded, string? Note)[w];
        void One(int f)
        {
            var fp = _profile.Features[f];
            partials[f] = fp.Kind == "categorical" ? EvalCategorical(fp, columns[f]) : EvalNumeric(fp, columns[f]);
        }
        if (w >= 32) Parallel.For(0, w, One);
        else for (int f = 0; f < w; f++) One(f);

        int evaluated = partials.Count(p => p.Note is null);
        var decision = _options.Decision;
        var scores = new FeatureScore[w];
        int drifted = 0;
        long nonFinite = 0;
        for (int f = 0; f < w; f++)
        {
            var p = partials[f];
            nonFinite += p.Excluded;
            bool d = p.Note is null && (p.Num is not null ? decision.NumericDrifted(p.Num, evaluated) : decision.CategoricalDrifted(p.Cat!, evaluated));
            if (d) drifted++;
            if (p.Note is not null) Note(problems, $"feature '{_names[f]}' not evaluated: {p.Note}");
            if (p.Cat is { UnseenCategories.Count: > 0 })
                Note(problems, $"feature '{_names[f]}': categories unseen in the reference: {string.Join(", ", p.Cat.UnseenCategories)}");
            scores[f] = new FeatureScore(
                _names[f], _profile.Features[f].Kind, d,
                p.Num?.Ks.Statistic, p.Num?.Ks.PValue ?? p.Cat?.ChiSquared.PValue,
                p.Num?.Psi ?? p.Cat?.Psi, p.Num?.JensenShannon ?? p.Cat?.JensenShannon, p.Num?.Wasserstein,
                p.Cat?.ChiSquared.Statistic, p.Count, p.Excluded,
                p.Cat is { UnseenCategories.Count: > 0 } ? p.Cat.UnseenCategories : null, p.Note);
        }
        if (nonFinite > 0)
            Note(problems, string.Create(CultureInfo.InvariantCulture, $"{nonFinite} non-finite feature values excluded"));
        double share = evaluated == 0 ? 0.0 : (double)drifted / evaluated;

        MmdResult? mmd = null;
        if (_options.EnableMmd && _profile.Multivariate is { Sample.Count: >= 2 } mv)
        {
            mmd = RunMmd(mv, rows, columns, problems);
        }
        bool mmdDrifted = mmd is not null && mmd.PValue < _options.MmdAlpha;
        var prediction = EvalPredictions(rows, problems);

        bool dataset = (evaluated > 0 && share >= decision.DatasetDriftShare) || (_options.MmdCountsAsDatasetDrift && mmdDrifted);
        double score = Math.Max(share, _options.MmdCountsAsDatasetDrift && mmdDrifted ? 1.0 - mmd!.PValue : 0.0);
        var severity = !dataset
            ? (drifted > 0 || mmdDrifted || prediction is { Drifted: true } ? DriftSeverity.Low : DriftSeverity.None)
            : (share >= _options.HighShare || prediction is { Drifted: true } ? DriftSeverity.High : DriftSeverity.Medium);

        _consecutive = dataset ? _consecutive + 1 : 0;
        bool labelsExpected = _performance.LabelsSeen > 0;
        var evidence = _performance.Record(_performance.Measure(rows), dataset);
        var trigger = _policy.Decide(dataset, _consecutive, _options.ConsecutiveWindowsToRaise, evidence, labelsExpected);
        string? suppressed = null;
        if (trigger.StartRun)
        {
            if (_paused) suppressed = "paused";
            else if (_inFlight) suppressed = "run_in_flight";
            else if (_cooldownUntil is { } until && report.ClosedAt < until) suppressed = "cooldown";
        }
        bool raise = trigger.StartRun && suppressed is null;
        if (suppressed is not null) trigger = trigger with { StartRun = false, Reason = $"{trigger.Reason}; run suppressed: {suppressed}" };
        int consecutiveNow = _consecutive;
        if (raise)
        {
            // Drift without harm keeps the streak (and its pooled evidence) going: a gradual shift
            // that becomes harmful later still starts a run. A raise starts both afresh.
            _consecutive = 0;
            _performance.ResetStreak();
            if (_options.MarkRunInFlightOnRaise) _inFlight = true;
        }

        var top = Enumerable.Range(0, w)
            .Where(f => scores[f].Drifted)
            .OrderBy(f => scores[f].PValue ?? double.MaxValue)
            .ThenByDescending(f => scores[f].Psi ?? 0)
            .Take(_options.TopFeatures)
            .Select(f => _names[f])
            .ToList();

        return report with
        {
            Status = WindowStatus.Evaluated,
            Problems = Render(problems),
            Features = scores,
            EvaluatedFeatures = evaluated,
            ShareDrifted = share,
            DatasetDrift = dataset,
            DatasetDriftScore = score,
            Severity = severity,
            TopFeatures = top,
            Mmd = mmd,
            MmdDrifted = mmdDrifted,
            Prediction = prediction,
            ConsecutiveDriftedWindows = consecutiveNow,
            Raise = raise,
            SuppressedReason = suppressed,
            Performance = evidence,
            Trigger = trigger,
        };
    }

    private static (NumericStatistics?, CategoricalStatistics?, int, int, string?) EvalNumeric(FeatureProfile fp, double[] column)
    {
        var values = new double[column.Length];
        int n = 0;
        foreach (double v in column)
        {
            if (double.IsFinite(v)) values[n++] = v;
        }
        int excluded = column.Length - n;
        if (fp.Count == 0 || fp.Sorted.Length == 0) return (null, null, n, excluded, "no finite values in the reference");
        if (n == 0) return (null, null, 0, excluded, "no finite values in the window");
        var cur = values.AsSpan(0, n);
        cur.Sort();
        var (numerator, w1) = NumericDrift.KsAndWasserstein(fp.Sorted, cur);
        KsResult ks = fp.IsSketch
            ? KolmogorovSmirnov.PValue(numerator / ((double)fp.Sorted.Length * n), (int)Math.Min(fp.Count, int.MaxValue), n)
            : KolmogorovSmirnov.FromNumerator(numerator, fp.Sorted.Length, n);
        var cp = Binning.Proportions(Binning.CountsSorted(fp.BinEdges, cur));
        var stats = new NumericStatistics(ks, Binning.Psi(fp.BinProportions, cp), w1, Binning.JensenShannon(fp.BinProportions, cp));
        return (stats, null, n, excluded, null);
    }

    private static (NumericStatistics?, CategoricalStatistics?, int, int, string?) EvalCategorical(FeatureProfile fp, double[] column)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        int excluded = 0;
        foreach (double v in column)
        {
            if (!double.IsFinite(v))
            {
                excluded++;
                continue;
            }
            string k = ReferenceProfile.CategoryKey(v);
            counts[k] = counts.TryGetValue(k, out long c) ? c + 1 : 1;
        }
        int n = column.Length - excluded;
        if (fp.Categories is null || fp.Count == 0) return (null, null, n, excluded, "no values in the reference");
        if (n == 0) return (null, null, 0, excluded, "no finite values in the window");
        return (null, CategoricalDrift.Compare(fp.Categories, counts), n, excluded, null);
    }

    private MmdResult? RunMmd(MultivariateProfile mv, Observation[] rows, double[][] columns, SortedDictionary<string, int> problems)
    {
        var cur = new List<float[]>(rows.Length);
        if (mv.Source == "embedding")
        {
            int bad = 0;
            foreach (var r in rows)
            {
                if (r.Embedding is { } e && e.Length == mv.Dimension && e.All(float.IsFinite)) cur.Add(e);
                else bad++;
            }
            if (bad > 0)
                Note(problems, string.Create(CultureInfo.InvariantCulture,
                    $"MMD: {bad} rows without a finite embedding of dimension {mv.Dimension} left out"));
        }
        else
        {
            for (int i = 0; i < rows.Length; i++) cur.Add(_profile.StandardisedFeatures(columns, i));
        }
        if (cur.Count < 2)
        {
            Note(problems, "MMD skipped: fewer than 2 usable rows");
            return null;
        }
        // Not HashCode.Combine: it is randomised per process, which made MMD p-values (and raises) differ between runs.
        int seed = unchecked((_options.Seed * 1_000_003) ^ (int)(_windowId * 7_919));
        return Mmd.Test(mv.Sample, cur, _options.MmdPermutations, seed, _options.MmdMaxPoints);
    }

    private PredictionDrift? EvalPredictions(Observation[] rows, SortedDictionary<string, int> problems)
    {
        var pp = _profile.Predictions;
        if (pp is null || pp.Count == 0) return null;
        int k = pp.ClassCounts.Length;
        int maxClass = k - 1;
        foreach (var r in rows) maxClass = Math.Max(maxClass, r.PredictedClass);
        var refCounts = new long[maxClass + 1];
        Array.Copy(pp.ClassCounts, refCounts, k);
        var curCounts = new long[maxClass + 1];
        int invalidClass = 0, invalidConf = 0, labelled = 0, correct = 0;
        var conf = new List<double>(rows.Length);
        foreach (var r in rows)
        {
            if (r.PredictedClass < 0) invalidClass++;
            else curCounts[r.PredictedClass]++;
            if (float.IsFinite(r.Confidence) && r.Confidence >= 0 && r.Confidence <= 1) conf.Add(r.Confidence);
            else invalidConf++;
            if (r.Label is { } label)
            {
                labelled++;
                if (label == r.PredictedClass) correct++;
            }
        }
        if (invalidClass > 0) Note(problems, string.Create(CultureInfo.InvariantCulture, $"{invalidClass} rows with a negative predicted class left out of prediction drift"));
        if (invalidConf > 0) Note(problems, string.Create(CultureInfo.InvariantCulture, $"{invalidConf} rows with a confidence outside [0, 1] or non-finite left out"));
        var unseen = new List<string>();
        for (int c = k; c <= maxClass; c++)
        {
            if (curCounts[c] > 0) unseen.Add(c.ToString(CultureInfo.InvariantCulture));
        }
        if (unseen.Count > 0) Note(problems, $"predicted classes unseen in the reference: {string.Join(", ", unseen)}");
        if (curCounts.Sum() == 0) return null;
        var cat = CategoricalDrift.Compare(refCounts, curCounts, unseen);
        double? confP = null;
        double curMean = 0;
        if (conf.Count > 0 && pp.ConfidenceSorted.Length > 0)
        {
            var sorted = conf.ToArray();
            Array.Sort(sorted);
            curMean = sorted.Average();
            long num = KolmogorovSmirnov.StatisticNumerator(pp.ConfidenceSorted, sorted);
            confP = pp.ConfidenceIsSketch
                ? KolmogorovSmirnov.PValue(num / ((double)pp.ConfidenceSorted.Length * sorted.Length), (int)Math.Min(pp.ConfidenceCount, int.MaxValue), sorted.Length).PValue
                : KolmogorovSmirnov.FromNumerator(num, pp.ConfidenceSorted.Length, sorted.Length).PValue;
        }
        return new PredictionDrift(
            cat.ChiSquared.PValue < _options.PredictionAlpha, cat.ChiSquared, cat.Psi, cat.JensenShannon,
            pp.MeanConfidence, curMean, confP, labelled > 0 ? (double)correct / labelled : null, labelled);
    }

    private static void Note(SortedDictionary<string, int> problems, string message) =>
        problems[message] = problems.TryGetValue(message, out int n) ? n + 1 : 1;

    private static void Merge(SortedDictionary<string, int> into, SortedDictionary<string, int> from)
    {
        foreach (var (k, v) in from) into[k] = into.TryGetValue(k, out int n) ? n + v : v;
    }

    private static List<string> Render(SortedDictionary<string, int> problems) =>
        problems.Select(kv => kv.Value > 1 ? string.Create(CultureInfo.InvariantCulture, $"{kv.Key} (x{kv.Value})") : kv.Key).ToList();
}
