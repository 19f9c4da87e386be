using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>What the pipeline did during one regime of the continual demo, as its events say.</summary>
internal sealed class RegimeWatch
{
    public Guid? RunId;
    public string? Outcome;
    public int? DeployedVersion;
    public double? DetectedAt;
    /// <summary>The drift window that raised the run (its number in the model's window sequence).</summary>
    public long? DetectedWindow;
    public double? OutcomeAt;
    public bool Scored;
    public IReadOnlyList<string> Reasons = [];
    public readonly Dictionary<int, CandidateTrained> Trained = [];
}

/// <summary>
/// The continual demo's event pump: the first run raised after a regime begins belongs to that regime; the run's
/// later events fill its <see cref="RegimeWatch"/>; drift, run and deploy moments become chart markers.
/// </summary>
internal sealed class SequenceWatch(Func<double> seconds, Action<string> say)
{
    private readonly Lock gate = new();
    private RegimeWatch? current;

    public List<ChartMarker> Markers { get; } = [];

    /// <summary>Starts watching for the next regime's run.</summary>
    public RegimeWatch Begin()
    {
        lock (gate)
        {
            current = new RegimeWatch();
            return current;
        }
    }

    public async Task PumpAsync(DemoEvents events, CancellationToken ct)
    {
        await foreach (var e in events.Reader.ReadAllAsync(ct))
        {
            lock (gate)
            {
                if (current is { } w)
                {
                    Handle(w, e);
                }
            }
        }
    }

    private void Mark(string kind, string label)
    {
        lock (Markers)
        {
            Markers.Add(new ChartMarker(seconds(), kind, label));
        }
    }

    private void Handle(RegimeWatch w, object e)
    {
        switch (e)
        {
            case DriftDetected d when w.RunId is null:
                (w.RunId, w.DetectedAt) = (d.RunId, seconds());
                var at = d.WindowId.LastIndexOf("-w", StringComparison.Ordinal);
                w.DetectedWindow = at >= 0 && long.TryParse(d.WindowId[(at + 2)..], System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
                Mark("drift", "drift");
                say($"[red]drift detected[/] in {d.WindowId}: severity {d.Severity}, score {d.DatasetDriftScore:F2}; run {d.RunId}");
                break;
            case SensitivityScored s when s.RunId == w.RunId:
                w.Scored = true;
                Mark("run", "run");
                say($"sensitivity scored: mask selects {s.SelectedFraction:P2} of parameters; tuning");
                break;
            case CandidateTrained c when c.RunId == w.RunId:
                w.Trained[c.CandidateVersion] = c;
                say($"candidate v{c.CandidateVersion} trained ({c.Strategy}, {c.Steps} steps, {c.TrainSeconds:F1} s); {c.SelectedFraction:P2} selected");
                break;
            case CandidateEvaluated v when v.RunId == w.RunId:
                say($"evaluated v{v.CandidateVersion}: shifted {v.ShiftedAccuracyBefore:P1} → {v.ShiftedAccuracyAfter:P1}, " +
                    $"earlier regimes {v.OriginalAccuracyBefore:P1} → {v.OriginalAccuracyAfter:P1}: [bold]{v.Decision}[/]");
                w.Reasons = v.Reasons;
                break;
            case ApprovalRequested a when a.RunId == w.RunId:
                End(w, "awaiting_approval", a.Reasons);
                break;
            case CandidateApproved a when a.RunId == w.RunId:
                w.Reasons = a.Reasons;
                break;
            case CandidateRejected r when r.RunId == w.RunId:
                End(w, "rejected", r.Reasons);
                Mark("reject", "rejected");
                say($"[red]rejected[/]: {Markup.Escape(string.Join("; ", r.Reasons))}");
                break;
            case ModelDeployed m when m.RunId is not null && m.RunId == w.RunId:
                w.DeployedVersion = m.Version;
                End(w, "deployed", w.Reasons);
                Mark("deploy", $"v{m.Version}");
                say($"[green]deployed v{m.Version}[/] (was v{m.PreviousVersion})");
                break;
            case AdaptationRunFailed f when f.RunId == w.RunId:
                End(w, "failed", [$"{f.Stage}: {f.Reason}"]);
                say($"[red]run failed[/] in {f.Stage}: {Markup.Escape(f.Reason)}");
                break;
        }
    }

    private void End(RegimeWatch w, string outcome, IReadOnlyList<string> reasons)
    {
        w.Reasons = reasons;
        w.OutcomeAt = seconds();
        w.Outcome = outcome;
    }
}
