using System.Text;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.AdaptationRuns;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.Storage.Repositories;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>
/// pipelinectl against the real RabbitMQ and real service hosts: every command is answered accepted or
/// refused with the reason, and exits non-zero unless accepted; runs are listed, shown and watched over the bus.
/// alice is an approver, mallory an operator (where a test says so) or nobody.
/// </summary>
public class OperatorCommandTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static string[] As(string user, params string[] args) => [.. args, "--user", user, "--password", user];

    [Fact]
    public async Task With_no_service_listening_approve_says_nobody_answered_and_exits_non_zero()
    {
        var run = Guid.NewGuid().ToString();
        var result = await Pipelinectl.RunAsync(As("alice", "approve", run, "--reason", "looks good", "--timeout", "2"));

        // Within the wait, or at once when no queue is bound to the command's exchange (or it was never declared).
        Assert.Equal(3, result.Code);
        Assert.StartsWith("error: no service answered", result.Err.Trim(), StringComparison.Ordinal);
        Assert.Contains("adaptation-runs", result.Err, StringComparison.Ordinal);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task A_wrong_password_is_named_as_an_authentication_failure()
    {
        var result = await Pipelinectl.RunAsync("pause", "fashion-mnist", "--reason", "x", "--user", "alice", "--password", "not-alices");

        Assert.Equal(4, result.Code);
        Assert.StartsWith("error: authentication failed: RabbitMQ at", result.Err.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("unreachable", result.Err, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task User_mistakes_are_one_line_and_a_non_zero_exit()
    {
        foreach (var args in new[]
        {
            new[] { "approve", "not-a-run-id", "--reason", "x" },
            ["rollback", "Not A Model!", "--reason", "x"],
            ["rollback", "m", "--to", "0", "--reason", "x"],
            ["runs", "list", "--limit", "0"],
            ["approve", Guid.NewGuid().ToString(), "--reason", "x", "--timeout", "-1"],
        })
        {
            var result = await Pipelinectl.RunAsync(args);
            Assert.True(result.Code == 2, $"{string.Join(' ', args)}: exit {result.Code}");
            Assert.DoesNotContain(" at Pipeline.", result.Err, StringComparison.Ordinal);
            Assert.NotEqual("", result.Err.Trim());
        }
    }

    [Fact]
    public async Task Approve_is_refused_to_a_non_approver_and_for_an_unknown_run_and_accepted_for_an_approver()
    {
        await using var hosts = new ServiceHosts("ctl-approve");
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        var runId = await Pipelinectl.PendingRunAsync(owner.Services, "ctl-approve");

        var mallory = await Pipelinectl.RunAsync(As("mallory", "approve", runId.ToString(), "--reason", "ship it"));
        Assert.Equal(1, mallory.Code);
        Assert.Equal("error: refused by adaptation-runs: 'mallory' does not have the approver role (Roles:Approvers)", mallory.Err.Trim());

        var unknown = Guid.NewGuid();
        var missing = await Pipelinectl.RunAsync(As("alice", "approve", unknown.ToString(), "--reason", "ship it"));
        Assert.Equal(1, missing.Code);
        Assert.Contains($"run {unknown} is unknown", missing.Err, StringComparison.Ordinal);

        // Both refusals were answered, so neither is left in the error queue for someone to find.
        await using (var connection = await Broker.ConnectAsync())
        {
            Assert.Null(await Broker.GetAsync(connection, Queue<ApproveCandidateConsumer>(hosts) + "_error", TimeSpan.FromSeconds(1)));
        }

        Assert.Equal(RunState.AwaitingApproval, (await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId))!.State);
        var ok = await Pipelinectl.RunAsync(As("alice", "approve", runId.ToString(), "--reason", "ship it"));
        Assert.Equal(0, ok.Code);
        Assert.Equal($"accepted (alice): run {runId} approved: deploying ctl-approve v3 (replaces v2)", ok.Out.Trim());
        Assert.Equal(RunState.Deploying, (await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId))!.State);
    }

    [Fact]
    public async Task Runs_list_and_show_ask_the_run_owner_over_the_bus()
    {
        await using var hosts = new ServiceHosts("ctl-runs");
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        var runId = await Pipelinectl.PendingRunAsync(owner.Services, "ctl-runs");

        var list = await Pipelinectl.RunAsync(As("mallory", "runs", "list", "--pending", "--model", "ctl-runs", "--json"));
        Assert.Equal(0, list.Code);
        var pending = Assert.Single(JsonSerializer.Deserialize<RunList>(list.Out, Web)!.Runs);
        Assert.Equal((runId, "AwaitingApproval", 3), (pending.RunId, pending.State, pending.CandidateVersion));
        Assert.NotNull(pending.ApprovalExpiresAt);

        var show = await Pipelinectl.RunAsync(As("mallory", "runs", "show", runId.ToString(), "--json"));
        Assert.Equal(0, show.Code);
        var details = JsonSerializer.Deserialize<RunDetails>(show.Out, Web)!;
        Assert.Equal(["Detected", "Scoring", "Tuning", "Evaluating", "AwaitingApproval"], details.History.Select(h => h.State));
        Assert.Equal("gain within the ask band", details.History[^1].Detail);

        var unknown = await Pipelinectl.RunAsync(As("mallory", "runs", "show", Guid.NewGuid().ToString()));
        Assert.Equal(1, unknown.Code);
        Assert.Contains("is unknown", unknown.Err, StringComparison.Ordinal);

        // Nothing pending for another model; the whole list still has the run.
        var none = await Pipelinectl.RunAsync(As("mallory", "runs", "list", "--pending", "--model", "ctl-other"));
        Assert.Equal((0, "no candidate awaits approval"), (none.Code, none.Out.Trim()));
        var all = await Pipelinectl.RunAsync(As("mallory", "runs", "list", "--json"));
        Assert.Contains(JsonSerializer.Deserialize<RunList>(all.Out, Web)!.Runs, r => r.RunId == runId);
    }

    [Fact]
    public async Task Runs_watch_follows_a_run_until_it_ends()
    {
        await using var hosts = new ServiceHosts("ctl-watch");
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        var runId = await Pipelinectl.PendingRunAsync(owner.Services, "ctl-watch");

        var written = new StringWriter();
        var output = TextWriter.Synchronized(written);
        string Output()
        {
            lock (output)
            {
                return written.ToString(); // the synchronized writer locks on itself
            }
        }

        var error = new StringWriter();
        var watch = Pipelinectl.RunAsync(output, error, As("mallory", "runs", "watch", runId.ToString()));
        try
        {
            for (var i = 0; i < 300 && !Output().Contains("AwaitingApproval", StringComparison.Ordinal); i++)
            {
                await Task.Delay(100);
            }

            Assert.Contains($"run {runId}: ctl-watch v2 → v3, AwaitingApproval", Output(), StringComparison.Ordinal);
        }
        finally
        {
            // The run ends either way, so the watch never outlives the test.
            await Operators.SendAsync("alice", new RejectCandidate { RunId = runId, Reason = "forgets too much" });
        }

        Assert.Same(watch, await Task.WhenAny(watch, Task.Delay(Wait)));
        Assert.Equal(0, await watch);
        var lines = Output();
        Assert.Contains("rejected by alice (Manual): forgets too much", lines, StringComparison.Ordinal);
        Assert.Contains("ended Rejected", lines, StringComparison.Ordinal);
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public async Task Two_rollbacks_in_a_row_never_return_to_the_bad_version_and_refusals_name_the_reason()
    {
        await using var hosts = new ServiceHosts("ctl-rollback");
        var deployment = await hosts.StartAsync([new DeploymentModule()], new Dictionary<string, string?> { ["Roles:Operators:0"] = "mallory" });
        const string model = "ctl-rollback";
        await Seed.TwoProductionVersionsAsync(deployment.Services, model);
        await Seed.ExtraVersionAsync(deployment.Services, model, 3);
        var registry = deployment.Services.GetRequiredService<IModelRegistry>();
        await registry.SetProductionAsync(model, 3, "test", "v3");
        async Task<int> Production() => (await registry.GetProductionAsync(model))!.Version;

        var first = await Pipelinectl.RunAsync(As("alice", "rollback", model, "--reason", "v3 regressed on returns"));
        Assert.Equal(0, first.Code);
        Assert.Contains("rolled back from v3 to v2", first.Out, StringComparison.Ordinal);
        Assert.Equal(2, await Production());

        var second = await Pipelinectl.RunAsync(As("alice", "rollback", model, "--reason", "v2 is no better"));
        Assert.Equal(0, second.Code);
        Assert.Equal(1, await Production());

        var third = await Pipelinectl.RunAsync(As("alice", "rollback", model, "--reason", "still bad"));
        Assert.Equal(1, third.Code);
        Assert.Contains("has no earlier good version (rolled back as bad: v2, v3)", third.Err, StringComparison.Ordinal);
        Assert.Equal(1, await Production());

        var nonexistent = await Pipelinectl.RunAsync(As("alice", "rollback", model, "--to", "7", "--reason", "typo"));
        Assert.Equal(1, nonexistent.Code);
        Assert.Contains($"{model} v7 does not exist", nonexistent.Err, StringComparison.Ordinal);

        var unknownModel = await Pipelinectl.RunAsync(As("alice", "rollback", "no-such-model", "--reason", "typo"));
        Assert.Equal(1, unknownModel.Code);
        Assert.Contains("model no-such-model is unknown", unknownModel.Err, StringComparison.Ordinal);

        var operatorNamesBad = await Pipelinectl.RunAsync(As("mallory", "rollback", model, "--to", "3", "--reason", "v3 was fine"));
        Assert.Equal(1, operatorNamesBad.Code);
        Assert.Contains("v3 was rolled back as bad; only an approver may name it", operatorNamesBad.Err, StringComparison.Ordinal);

        var approverNamesBad = await Pipelinectl.RunAsync(As("alice", "rollback", model, "--to", "3", "--reason", "v3 fixed upstream, checked by hand"));
        Assert.Equal(0, approverNamesBad.Code);
        Assert.Equal(3, await Production());

        var history = await registry.GetProductionHistoryAsync(model);
        Assert.Equal([AliasChangeKind.Rollback, AliasChangeKind.Rollback, AliasChangeKind.Rollback], history.Take(3).Select(h => h.Kind));
    }

    [Fact]
    public async Task A_plain_publish_without_a_response_address_is_still_refused_to_the_error_queue()
    {
        await using var hosts = new ServiceHosts("ctl-plain");
        var owner = await hosts.StartAsync([new AdaptationRunsModule()]);
        var runId = await Pipelinectl.PendingRunAsync(owner.Services, "ctl-plain");

        await using var connection = await Broker.ConnectAsync("mallory");
        await using (var channel = await connection.CreateChannelAsync())
        {
            var body = Encoding.UTF8.GetBytes($$"""{"runId":"{{runId}}","reason":"from amqp"}""");
            await channel.BasicPublishAsync("Pipeline.Contracts:ApproveCandidate", "", false,
                new BasicProperties { ContentType = "application/json", UserId = "mallory", DeliveryMode = DeliveryModes.Persistent }, body);
        }

        await using var admin = await Broker.ConnectAsync();
        var refused = await Broker.GetAsync(admin, Queue<ApproveCandidateConsumer>(hosts) + "_error", Wait);
        Assert.NotNull(refused);
        Assert.Contains("'mallory' does not have the approver role",
            Encoding.UTF8.GetString((byte[])refused.BasicProperties.Headers!["MT-Fault-Message"]!), StringComparison.Ordinal);
        Assert.Equal(RunState.AwaitingApproval, (await owner.Services.GetRequiredService<IAdaptationRunRepository>().GetAsync(runId))!.State);
    }

    private static string Queue<TConsumer>(ServiceHosts hosts)
        where TConsumer : class, IConsumer =>
        new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<TConsumer>();
}
