using System.CommandLine;
using Pipeline.Contracts;

namespace Pipeline.Cli.Commands;

/// <summary>
/// approve, reject, rollback, pause, resume, adapt: operator commands sent as messages over
/// RabbitMQ. See docs/operations.md for sending the same messages with plain AMQP tools.
/// </summary>
public static class OperatorCommands
{
    private static readonly Option<string?> User = new("--user") { Description = "RabbitMQ user (the operator identity); default $PIPELINE_AMQP_USER or the OS user" };
    private static readonly Option<string?> Password = new("--password") { Description = "RabbitMQ password; default $PIPELINE_AMQP_PASSWORD" };

    public static IEnumerable<Command> Create()
    {
        yield return RunCommand("approve", "Approve a candidate awaiting approval",
            (run, reason) => new ApproveCandidate { RunId = run, Reason = reason });
        yield return RunCommand("reject", "Reject a candidate awaiting approval",
            (run, reason) => new RejectCandidate { RunId = run, Reason = reason });
        yield return Rollback();
        yield return ModelCommand("pause", "Pause automatic adaptation of a model",
            (model, reason) => new PauseAdaptation { ModelId = model, Reason = reason });
        yield return ModelCommand("resume", "Resume automatic adaptation of a model",
            (model, reason) => new ResumeAdaptation { ModelId = model, Reason = reason });
        yield return ModelCommand("adapt", "Start an adaptation run now, without waiting for drift",
            (model, reason) => new StartAdaptation { ModelId = model, Reason = reason });
    }

    private static Option<string> ReasonOption() => new("--reason") { Description = "Why (recorded in the audit trail)", Required = true };

    private static Command RunCommand<T>(string name, string description, Func<Guid, string, T> create)
        where T : class
    {
        var run = new Argument<Guid>("run") { Description = "Run id" };
        var reason = ReasonOption();
        var cmd = new Command(name, description) { run, reason, User, Password };
        cmd.SetAction((r, ct) => Send(r, create(r.GetValue(run), r.GetValue(reason)!), ct));
        return cmd;
    }

    private static Command ModelCommand<T>(string name, string description, Func<string, string, T> create)
        where T : class
    {
        var model = new Argument<string>("model") { Description = "Model id" };
        var reason = ReasonOption();
        var cmd = new Command(name, description) { model, reason, User, Password };
        cmd.SetAction((r, ct) => Send(r, create(r.GetValue(model)!, r.GetValue(reason)!), ct));
        return cmd;
    }

    private static Command Rollback()
    {
        var model = new Argument<string>("model") { Description = "Model id" };
        var to = new Option<int?>("--to") { Description = "Version to return to (default: the previous production version)" };
        var reason = ReasonOption();
        var cmd = new Command("rollback", "Roll a model back to its previous (or a named) version") { model, to, reason, User, Password };
        cmd.SetAction((r, ct) => Send(r, new RollbackModel { ModelId = r.GetValue(model)!, ToVersion = r.GetValue(to), Reason = r.GetValue(reason)! }, ct));
        return cmd;
    }

    private static async Task<int> Send<T>(ParseResult r, T command, CancellationToken ct)
        where T : class
    {
        var broker = BrokerSettings.FromEnvironment(r.GetValue(User), r.GetValue(Password));
        try
        {
            await OperatorClient.PublishAsync(broker, command, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"error: could not send {typeof(T).Name} to {broker.Host}:{broker.Port} as {broker.User}: {ex.Message}");
            return 1;
        }

        Console.WriteLine($"sent {typeof(T).Name} as {broker.User}");
        return 0;
    }
}
