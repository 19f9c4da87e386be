using System.Globalization;

namespace Pipeline.Drift.Monitoring;

/// <summary>
/// Per-model streaming drift monitor: buffers accepted rows into tumbling or sliding windows
/// (<see cref="WindowBuffer"/>), evaluates each window against the <see cref="ReferenceProfile"/> when
/// it closes (<see cref="WindowEvaluator"/>), and applies hysteresis (N consecutive dataset-drifted
/// windows), cooldown after an adaptation, and suppression while a run is in flight or adaptation is
/// paused (<see cref="RaiseSuppression"/>). Thread-safe. Bad rows never throw: they are rejected and
/// counted, and every closed window yields a report (status Error with the reason if evaluation itself
/// fails). Rows may name their source (a batch): each report lists the sources of the rows that were new
/// in it, so every accepted row of every source is accounted for in exactly one window. Only the
/// constructor throws (<see cref="DriftInputException"/>) for an invalid profile or options.
/// </summary>
public sealed class DriftMonitor
{
    private readonly object _gate = new();
    private readonly ReferenceProfile _profile;
    private readonly MonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly WindowBuffer _buffer;
    private readonly WindowEvaluator _evaluator;
    private readonly RaiseSuppression _suppression;
    private long _windowId;

    /// <summary>Creates a monitor; throws <see cref="DriftInputException"/> for an invalid profile or options.</summary>
    public DriftMonitor(ReferenceProfile profile, MonitorOptions? options = null, TimeProvider? time = null, DriftMonitorState? state = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        _profile = profile;
        _options = options ?? new MonitorOptions();
        _options.Validate();
        _profile.Validate();
        _time = time ?? TimeProvider.System;
        _buffer = new WindowBuffer(_options.WindowSize, _options.Window);
        _evaluator = new WindowEvaluator(_profile, _options);
        _suppression = new RaiseSuppression(_profile, _options, _time, state);
        _windowId = state?.LastWindowId ?? 0;
    }

    /// <summary>The profile this monitor compares against.</summary>
    public ReferenceProfile Profile => _profile;

    /// <summary>Snapshot of the decision state (persist it to survive restarts).</summary>
    public DriftMonitorState State
    {
        get
        {
            lock (_gate) return _suppression.Snapshot(_windowId);
        }
    }

    /// <summary>Rows buffered toward the next window.</summary>
    public int BufferedRows
    {
        get
        {
            lock (_gate) return _buffer.Count;
        }
    }

    /// <summary>Accepted rows not yet counted in a closed window (new in the next one).</summary>
    public int PendingRows
    {
        get
        {
            lock (_gate) return _buffer.SinceEval;
        }
    }

    /// <summary>The id of the last window closed (0 before the first).</summary>
    public long LastWindowId
    {
        get
        {
            lock (_gate) return _windowId;
        }
    }

    /// <summary>An adaptation run started for this model: suppress raises until it finishes.</summary>
    public void RunStarted()
    {
        lock (_gate) _suppression.RunStarted();
    }

    /// <summary>The run finished (deployed or rejected): start the cooldown, reset the hysteresis.</summary>
    public void AdaptationFinished()
    {
        lock (_gate) _suppression.AdaptationFinished();
    }

    /// <summary>The run failed or was cancelled: clear the in-flight flag without a cooldown.</summary>
    public void RunAbandoned()
    {
        lock (_gate) _suppression.RunAbandoned();
    }

    /// <summary>
    /// Labels that came back for rows already ingested (feedback): <paramref name="correct"/> of
    /// <paramref name="labelled"/> predictions were right. They count toward the next window's observed accuracy.
    /// </summary>
    public void RecordFeedback(int labelled, int correct)
    {
        lock (_gate) _suppression.AddFeedback(labelled, correct);
    }

    /// <summary>Operator paused adaptation: windows are still evaluated and reported, never raised.</summary>
    public void Pause()
    {
        lock (_gate) _suppression.Pause();
    }

    /// <summary>Operator resumed adaptation.</summary>
    public void Resume()
    {
        lock (_gate) _suppression.Resume();
    }

    /// <summary>
    /// Adds a batch. Rows that are null or have the wrong width are rejected (counted, reported);
    /// accepted rows fill the window; every window that closes is evaluated and returned. The
    /// accepted rows are attributed to <paramref name="source"/> in the windows' <see cref="WindowReport.NewRows"/>.
    /// </summary>
    public IngestResult Ingest(IReadOnlyList<Observation?>? batch, RowSource? source = null)
    {
        lock (_gate)
        {
            var windows = new List<WindowReport>();
            var problems = new SortedDictionary<string, int>(StringComparer.Ordinal);
            int accepted = 0, rejected = 0;
            if (batch is null)
            {
                Problems.Note(problems, "batch was null");
                return new IngestResult(0, 0, Problems.Render(problems), windows);
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
                    _buffer.Reject(why);
                    Problems.Note(problems, why);
                    continue;
                }

                accepted++;
                _buffer.Push(row!, source);
                if (_buffer.Full && _buffer.SinceEval >= _options.Step)
                {
                    windows.Add(CloseWindow(partial: false));
                }
            }

            return new IngestResult(accepted, rejected, Problems.Render(problems), windows);
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
            if (_buffer.SinceEval == 0 && _buffer.RejectedPending == 0) return [];
            return [CloseWindow(partial: true)];
        }
    }

    private WindowReport CloseWindow(bool partial)
    {
        _windowId++;
        var window = _buffer.Take(partial);
        var rows = window.Rows;
        var pending = window.Problems;
        var report = new WindowReport
        {
            WindowId = _windowId,
            ModelId = _profile.ModelId,
            ModelVersion = _profile.ModelVersion,
            ClosedAt = _time.GetUtcNow(),
            Rows = rows.Length,
            RejectedRows = window.Rejected,
            Partial = partial,
            ConsecutiveDriftedWindows = _suppression.Consecutive,
            NewRows = window.NewRows,
        };
        if (rows.Length < _options.MinWindowRows)
        {
            Problems.Note(pending, string.Create(CultureInfo.InvariantCulture,
                $"window has {rows.Length} accepted rows, fewer than MinWindowRows {_options.MinWindowRows}: not evaluated"));
            return report with { Status = WindowStatus.InsufficientData, Problems = Problems.Render(pending) };
        }

        try
        {
            var stats = _evaluator.Evaluate(rows, _windowId, pending);
            var decision = _suppression.Decide(stats.DatasetDrift, rows, report.ClosedAt);
            return report with
            {
                Status = WindowStatus.Evaluated,
                Problems = Problems.Render(pending),
                Features = stats.Features,
                EvaluatedFeatures = stats.EvaluatedFeatures,
                ShareDrifted = stats.ShareDrifted,
                DatasetDrift = stats.DatasetDrift,
                DatasetDriftScore = stats.DatasetDriftScore,
                Severity = stats.Severity,
                TopFeatures = stats.TopFeatures,
                Mmd = stats.Mmd,
                MmdDrifted = stats.MmdDrifted,
                Prediction = stats.Prediction,
                ConsecutiveDriftedWindows = decision.Consecutive,
                Raise = decision.Raise,
                SuppressedReason = decision.Suppressed,
                Performance = decision.Evidence,
                Trigger = decision.Trigger,
            };
        }
#pragma warning disable CA1031 // The monitor must never crash its host on data it did not anticipate.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Problems.Note(pending, $"evaluation failed: {e.GetType().Name}: {e.Message}");
            return report with { Status = WindowStatus.Error, Problems = Problems.Render(pending) };
        }
    }
}
