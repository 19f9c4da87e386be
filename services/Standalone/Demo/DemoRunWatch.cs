using Pipeline.Contracts;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>What the demo learns of its run from the pipeline's events, said on the console as they arrive.</summary>
internal sealed class DemoRunWatch
{
    public Guid? RunId;
    public string? Outcome;
    public int? DeployedVersion;
    public double SelectedFraction;
    public double UpdatedFractionPerStep;
    public IReadOnlyList<string> Reasons = [];
    public bool Scored;
    public TuningProgress? Tuning;
    public readonly Dictionary<int, CandidateTrained> Trained = [];
    public readonly Dictionary<int, CandidateEvaluated> Evaluated = [];
    public double MaskSelectedFraction;
    public double? DriftDetectedAt;
    public double? DeployedAt;

    /// <summary>Reads the events until <paramref name="ct"/> ends; <paramref name="seconds"/> is the demo's clock.</summary>
    public async Task PumpAsync(DemoEvents events, Func<double> seconds, Action<string> say, CancellationToken ct)
    {
        await foreach (var e in events.Reader.ReadAllAsync(ct))
        {
            switch (e)
            {
                case DriftDetected d when RunId is null:
                    RunId = d.RunId;
                    DriftDetectedAt = seconds();
                    say($"[red]drift detected[/] in {d.WindowId}: severity {d.Severity}, score {d.DatasetDriftScore:F2}; run {d.RunId}");
                    break;
                case SensitivityScored s when s.RunId == RunId:
                    Scored = true;
                    MaskSelectedFraction = s.SelectedFraction;
                    say($"sensitivity scored: mask selects {s.SelectedFraction:P2} of parameters");
                    break;
                case TuningProgress t when t.RunId == RunId:
                    Tuning = t;
                    break;
                case CandidateTrained c when c.RunId == RunId:
                    Trained[c.CandidateVersion] = c;
                    say($"candidate v{c.CandidateVersion} trained ({c.Strategy}, {c.Steps} steps, {c.TrainSeconds:F1} s on {c.Device}); " +
                        $"{c.UpdatedFractionPerStep:P3} of parameters changed per step");
                    break;
                case CandidateEvaluated v when v.RunId == RunId:
                    say($"evaluated v{v.CandidateVersion}: shifted {v.ShiftedAccuracyBefore:P1} → {v.ShiftedAccuracyAfter:P1}, " +
                        $"original {v.OriginalAccuracyBefore:P1} → {v.OriginalAccuracyAfter:P1}: [bold]{v.Decision}[/]");
                    Reasons = v.Reasons;
                    Evaluated[v.CandidateVersion] = v;
                    break;
                case ApprovalRequested a when a.RunId == RunId:
                    Outcome = "awaiting_approval";
                    say($"[yellow]approval requested[/] until {a.ExpiresAt:u}: {Markup.Escape(string.Join("; ", a.Reasons))}");
                    break;
                case CandidateApproved a when a.RunId == RunId:
                    Reasons = a.Reasons;
                    if (Trained.TryGetValue(a.CandidateVersion, out var winner))
                    {
                        (SelectedFraction, UpdatedFractionPerStep) = (winner.SelectedFraction, winner.UpdatedFractionPerStep);
                    }

                    say($"approved by {Markup.Escape(a.By)} ({a.Mode}): v{a.CandidateVersion}");
                    break;
                case CandidateRejected r when r.RunId == RunId:
                    Outcome = "rejected";
                    Reasons = r.Reasons;
                    say($"[red]rejected[/]: {Markup.Escape(string.Join("; ", r.Reasons))}");
                    break;
                case ModelDeployed m when m.RunId is not null && m.RunId == RunId:
                    DeployedVersion = m.Version;
                    if (Trained.TryGetValue(m.Version, out var deployed))
                    {
                        // The deployed version's own figures (a rejected candidate's or the mask's never count).
                        (SelectedFraction, UpdatedFractionPerStep) = (deployed.SelectedFraction, deployed.UpdatedFractionPerStep);
                    }

                    DeployedAt = seconds();
                    Outcome = "deployed";
                    say($"[green]deployed v{m.Version}[/] (was v{m.PreviousVersion}); inference hot-swaps");
                    break;
                case AdaptationRunFailed f when f.RunId == RunId:
                    Outcome = "failed";
                    Reasons = [$"{f.Stage}: {f.Reason}"];
                    say($"[red]run failed[/] in {f.Stage}: {Markup.Escape(f.Reason)}");
                    break;
            }
        }
    }
}
