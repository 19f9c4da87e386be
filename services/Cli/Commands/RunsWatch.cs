using System.CommandLine;
using System.Globalization;
using System.Threading.Channels;
using MassTransit;
using Pipeline.Contracts;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>runs watch RUN</c>: the run's stage events and tuning progress as they happen, until the run ends. The events
/// the services publish anyway are bound to a temporary, auto-delete queue of this process; the run owner is
/// asked for the run's state first, so a run that already ended is reported at once.
/// Exit code 0 when the run ends deployed or rejected, 1 when it failed.
/// </summary>
public static class RunsWatch
{
    public static Command Create()
    {
        var run = new Argument<Guid>("run") { Description = "Run id" };
        var cmd = Ctl.WithConnection(new Command("watch", "Follow a run live: stages and tuning progress until it ends") { run });
        cmd.SetAction((r, ct) => Ctl.RunAsync(() => WatchAsync(Ctl.Broker(r), r.GetValue(run), Ctl.Timeout(r), ct)));
        return cmd;
    }

    private static async Task<int> WatchAsync(BrokerSettings broker, Guid runId, TimeSpan timeout, CancellationToken ct)
    {
        var events = Channel.CreateUnbounded<string?>();
        var exit = 0;
        await OperatorClient.WatchAsync(broker, e => Subscribe(e, runId, events.Writer), ct, async bus =>
        {
            var details = await OperatorClient.RequestAsync<GetRun, RunDetails>(bus, broker, new GetRun { RunId = runId }, Ctl.AdaptationRuns, timeout, ct);
            var state = details.Run;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {runId}: {state.ModelId} v{state.BaseVersion}{(state.CandidateVersion is { } c ? $" → v{c}" : "")}, {state.State}"));
            if (state.State is "Deployed" or "Rejected" or "Failed")
            {
                Console.WriteLine($"ended {state.State}{(state.FailureReason is { } f ? $" in {state.FailureStage}: {f}" : "")}");
                exit = state.State == "Failed" ? 1 : 0;
                return;
            }

            await foreach (var line in events.Reader.ReadAllAsync(ct))
            {
                if (line is null)
                {
                    break;
                }

                Console.WriteLine(line);
                if (line.Contains("  ended Failed", StringComparison.Ordinal))
                {
                    exit = 1;
                }
            }
        });
        return exit;
    }

    private static void Subscribe(IReceiveEndpointConfigurator e, Guid runId, ChannelWriter<string?> output)
    {
        void On<T>(Func<T, bool> mine, Func<T, string> line, bool last = false)
            where T : class =>
            e.Handler<T>(context =>
            {
                if (mine(context.Message))
                {
                    output.TryWrite($"{context.Message switch { IPipelineMessage p => p.Timestamp, _ => DateTimeOffset.UtcNow }:HH:mm:ss}  {line(context.Message)}");
                    if (last)
                    {
                        output.TryWrite(null);
                    }
                }

                return Task.CompletedTask;
            });

        On<AdaptationRunStarted>(m => m.RunId == runId, m => $"started on v{m.BaseVersion} by {m.TriggeredBy}");
        On<SensitivityScored>(m => m.RunId == runId, m => $"scored: the mask selects {m.SelectedFraction:P2} of parameters; tuning");
        On<TuningProgress>(m => m.RunId == runId, m => string.Create(CultureInfo.InvariantCulture,
            $"tuning {m.Phase} step {m.Step}/{m.TotalSteps}  loss {m.Loss:F4}  updated {m.UpdatedFraction:P2}"));
        On<CandidateTrained>(m => m.RunId == runId, m => string.Create(CultureInfo.InvariantCulture,
            $"trained candidate v{m.CandidateVersion} ({m.Strategy}, {m.Steps} steps, {m.TrainSeconds:F1} s on {m.Device}); evaluating"));
        On<CandidateEvaluated>(m => m.RunId == runId, m => string.Create(CultureInfo.InvariantCulture,
            $"evaluated v{m.CandidateVersion}: shifted {m.ShiftedAccuracyBefore:P1} → {m.ShiftedAccuracyAfter:P1}, original {m.OriginalAccuracyBefore:P1} → {m.OriginalAccuracyAfter:P1}; gate: {m.Decision}"));
        On<ApprovalRequested>(m => m.RunId == runId, m =>
            $"awaiting approval until {m.ExpiresAt:u}: {string.Join("; ", m.Reasons)} (ctl approve|reject {runId} --reason \"…\")");
        On<CandidateApproved>(m => m.RunId == runId, m => $"approved by {m.By} ({m.Mode}); deploying v{m.CandidateVersion}");
        On<CandidateRejected>(m => m.RunId == runId, m => $"rejected by {m.By} ({m.Mode}): {string.Join("; ", m.Reasons)}");
        On<ModelDeployed>(m => m.RunId == runId, m => $"deployed {m.ModelId} v{m.Version} (was v{m.PreviousVersion})");
        On<AdaptationRunFailed>(m => m.RunId == runId, m => $"failed in {m.Stage}: {m.Reason}");
        On<AdaptationRunFinished>(m => m.RunId == runId, m => $"ended {m.Outcome}: {m.Reason}", last: true);
    }
}
