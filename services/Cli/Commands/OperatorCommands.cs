using System.CommandLine;
using Pipeline.Contracts;
using Pipeline.Contracts.Validation;
using Pipeline.Hosting;

namespace Pipeline.Cli.Commands;

/// <summary>
/// approve, reject, rollback, pause, resume, adapt: operator commands sent as requests over RabbitMQ. The owning
/// service answers accepted or refused with the reason; pipelinectl prints it and exits 0 only when accepted.
/// See docs/operations.md for sending the same messages with plain AMQP tools (then nobody answers).
/// </summary>
public static class OperatorCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return RunCommand("approve", "Approve a candidate awaiting approval",
            (run, reason) => new ApproveCandidate { RunId = run, Reason = reason });
        yield return RunCommand("reject", "Reject a candidate awaiting approval",
            (run, reason) => new RejectCandidate { RunId = run, Reason = reason });
        yield return Rollback();
        yield return ModelCommand("pause", "Pause automatic adaptation of a model", Ctl.DriftDetection,
            (model, reason) => new PauseAdaptation { ModelId = model, Reason = reason });
        yield return ModelCommand("resume", "Resume automatic adaptation of a model", Ctl.DriftDetection,
            (model, reason) => new ResumeAdaptation { ModelId = model, Reason = reason });
        yield return ModelCommand("adapt", "Start an adaptation run now, without waiting for drift", Ctl.AdaptationRuns,
            (model, reason) => new StartAdaptation { ModelId = model, Reason = reason });
    }

    private static Option<string> ReasonOption() => new("--reason") { Description = "Why (recorded in the audit trail)", Required = true };

    private static Command RunCommand<T>(string name, string description, Func<Guid, string, T> create)
        where T : class
    {
        var run = new Argument<Guid>("run") { Description = "Run id (ctl runs list --pending shows them)" };
        var reason = ReasonOption();
        var cmd = Ctl.WithConnection(new Command(name, description) { run, reason });
        cmd.SetAction((r, ct) => SendAsync(r, create(r.GetValue(run), r.GetValue(reason)!), Ctl.AdaptationRuns, ct));
        return cmd;
    }

    private static Command ModelCommand<T>(string name, string description, string service, Func<string, string, T> create)
        where T : class
    {
        var model = Ctl.ModelArgument();
        var reason = ReasonOption();
        var cmd = Ctl.WithConnection(new Command(name, description) { model, reason });
        cmd.SetAction((r, ct) => SendAsync(r, create(r.GetValue(model)!, r.GetValue(reason)!), service, ct));
        return cmd;
    }

    private static Command Rollback()
    {
        var model = Ctl.ModelArgument();
        var to = new Option<int?>("--to")
        {
            Description = "Version to return to (default: the last good version, never one rolled back as bad; naming another takes an approver)",
        };
        to.Validators.Add(v =>
        {
            if (v.GetValue(to) is <= 0)
            {
                v.AddError("--to must be a version number, 1 or more");
            }
        });
        var reason = ReasonOption();
        var cmd = Ctl.WithConnection(new Command("rollback", "Roll a model back to its last good (or a named) version") { model, to, reason });
        cmd.SetAction((r, ct) => SendAsync(r,
            new RollbackModel { ModelId = r.GetValue(model)!, ToVersion = r.GetValue(to), Reason = r.GetValue(reason)! }, Ctl.Deployment, ct));
        return cmd;
    }

    private static Task<int> SendAsync<T>(ParseResult r, T command, string service, CancellationToken ct)
        where T : class =>
        Ctl.RunAsync(async () =>
        {
            var broker = Ctl.Broker(r);
            var accepted = await OperatorClient.CommandAsync(broker, command, service, Ctl.Timeout(r), ct);
            Console.WriteLine($"accepted ({accepted.By}): {accepted.Detail}");
            return 0;
        });
}

/// <summary>What every command that talks to a running deployment shares: connection options, timeout, exit codes.</summary>
public static class Ctl
{
    public const string AdaptationRuns = "adaptation-runs";
    public const string DriftDetection = "drift-detection";
    public const string Deployment = "deployment";

    private static readonly Option<string?> User = new("--user") { Description = "RabbitMQ user (the operator identity); default $PIPELINE_AMQP_USER or the OS user" };
    private static readonly Option<string?> Password = new("--password") { Description = "RabbitMQ password; default $PIPELINE_AMQP_PASSWORD" };
    private const string TimeoutName = "--timeout";

    private static Option<double> CreateTimeout(double seconds)
    {
        var option = new Option<double>(TimeoutName)
        {
            Description = "Seconds to wait for the owning service's answer", DefaultValueFactory = _ => seconds,
        };
        option.Validators.Add(v =>
        {
            if (v.GetValue(option) is not (> 0 and <= 3600))
            {
                v.AddError("--timeout must be between 0 and 3600 seconds");
            }
        });
        return option;
    }

    /// <summary>Adds --user, --password and --timeout (default <paramref name="timeoutSeconds"/>).</summary>
    public static Command WithConnection(Command command, double timeoutSeconds = 30)
    {
        command.Options.Add(User);
        command.Options.Add(Password);
        command.Options.Add(CreateTimeout(timeoutSeconds));
        return command;
    }

    public static Argument<string> ModelArgument()
    {
        var model = new Argument<string>("model") { Description = "Model id" };
        model.Validators.Add(v =>
        {
            if (!Rules.IsValidModelId(v.GetValue(model)))
            {
                v.AddError($"model id '{v.GetValue(model)}' must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
            }
        });
        return model;
    }

    public static BrokerSettings Broker(ParseResult r) => BrokerSettings.FromEnvironment(r.GetValue(User), r.GetValue(Password));

    public static TimeSpan Timeout(ParseResult r) => TimeSpan.FromSeconds(r.GetValue<double>(TimeoutName));

    /// <summary>Runs a command's work: a refusal, no answer or a broker failure is one line on stderr and its exit code.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> work)
    {
        try
        {
            return await work();
        }
        catch (OperatorException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return ex.ExitCode;
        }
    }
}
