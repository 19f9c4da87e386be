using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.AdaptationRuns;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.DriftDetection;
using Pipeline.EvaluationGate;
using Pipeline.Hosting;
using Pipeline.Inference;
using Pipeline.SensitivityScoring;
using Pipeline.SparseTuning;
using Pipeline.Storage.Repositories;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>
/// A malformed message once stopped its consumer for good under the services' own users (the
/// fault exchange bind was refused). Each of the seven services runs under its least-privilege user; every one
/// of its queues gets a message that cannot be read, which must reach that queue's _error queue with the reason
/// while the queue keeps its consumer; then a valid message to each service is processed.
/// </summary>
public class MalformedMessageTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_malformed_message_reaches_the_error_queue_with_its_reason_and_every_service_keeps_consuming()
    {
        await using var hosts = new ServiceHosts("malformed");
        var hostsByService = new Dictionary<string, IHost>
        {
            ["adaptation-runs"] = await hosts.StartAsync([new AdaptationRunsModule()]),
            ["drift-detection"] = await hosts.StartAsync([new DriftDetectionModule()]),
            ["sensitivity-scoring"] = await hosts.StartAsync([new SensitivityScoringModule()]),
            ["sparse-tuning"] = await hosts.StartAsync([new SparseTuningModule()]),
            ["evaluation-gate"] = await hosts.StartAsync([new EvaluationGateModule()]),
            ["deployment"] = await hosts.StartAsync([new DeploymentModule()]),
            ["inference"] = await hosts.StartAsync([new InferenceModule()], new Dictionary<string, string?> { ["Inference:Auth:Enabled"] = "false" }),
        };

        var queues = await ConsumedQueuesAsync(hosts.Prefix);
        foreach (var service in hostsByService.Keys)
        {
            Assert.Contains(queues.Keys, q => q.Contains(service + "-", StringComparison.Ordinal));
        }

        await using var connection = await Broker.ConnectAsync();
        var sent = new Dictionary<string, string>();
        await using (var channel = await connection.CreateChannelAsync())
        {
            foreach (var queue in queues.Keys)
            {
                var id = Guid.NewGuid().ToString();
                sent[queue] = id;
                var props = new BasicProperties { MessageId = id, ContentType = "application/vnd.masstransit+json", DeliveryMode = DeliveryModes.Persistent };
                await channel.BasicPublishAsync("", queue, false, props, """{"messageType":["urn:message:Pipeline.Contracts:Nothing"],"message":{"""u8.ToArray());
            }
        }

        foreach (var (queue, id) in sent)
        {
            if (queues[queue].Temporary)
            {
                // Inference's per-instance model-events queue is a temporary endpoint: MassTransit keeps no error queue
                // for it (it would outlive the instance). The message must still not block it: it is gone from the
                // queue (checked below), and a valid ModelDeployed after it is processed.
                continue;
            }

            var moved = await Broker.GetAsync(connection, queue + "_error", Wait);
            Assert.True(moved is not null, $"{queue}: the malformed message did not reach {queue}_error");
            Assert.Equal(id, moved.BasicProperties.MessageId);
            var reason = Encoding.UTF8.GetString((byte[])moved.BasicProperties.Headers!["MT-Fault-Message"]!);
            Assert.False(string.IsNullOrWhiteSpace(reason), queue);
        }

        // Every queue has its consumer again and is empty (a refused fault binding must not remove the consumer).
        // The broker's consumer count is read until it settles: a channel that recovers shows 0 for a moment.
        var after = await ConsumedQueuesAsync(hosts.Prefix);
        for (var until = DateTime.UtcNow + Wait; DateTime.UtcNow < until && queues.Keys.Any(q => after.GetValueOrDefault(q).Consumers < 1 || after[q].Messages != 0);)
        {
            await Task.Delay(500);
            after = await ConsumedQueuesAsync(hosts.Prefix);
        }

        foreach (var queue in queues.Keys)
        {
            Assert.True(after.GetValueOrDefault(queue).Consumers >= 1, $"{queue} lost its consumer");
            Assert.True(after[queue].Messages == 0, $"{queue} still holds {after[queue].Messages} message(s): the malformed one blocks it");
        }

        // Then a valid message to each service is processed.
        var alice = new BrokerSettings(Broker.Host, Broker.Port, Broker.VirtualHost, "alice", "alice");
        var catalog = await OperatorClient.QueryAsync<ListModels, ModelCatalog>(alice, new ListModels(), "deployment", Wait, CancellationToken.None);
        Assert.NotNull(catalog.Models);
        var runs = await OperatorClient.QueryAsync<ListRuns, RunList>(alice, new ListRuns(), "adaptation-runs", Wait, CancellationToken.None);
        Assert.NotNull(runs.Runs);

        var drift = hostsByService["drift-detection"].Services;
        await drift.GetRequiredService<IModelRegistry>().EnsureModelAsync("malformed-model");
        await Operators.SendAsync("alice", new PauseAdaptation { ModelId = "malformed-model", Reason = "after a malformed message" });
        Assert.True(await EventuallyAsync(async () => await drift.GetRequiredService<IAdaptationPauseRepository>().GetAsync("malformed-model") is not null),
            "drift-detection did not process PauseAdaptation after a malformed message");

        var bus = await hosts.PublisherAsync();
        var file = new PayloadRef { Uri = "file:///nowhere/set.pfb", Sha256 = new string('a', 64) };
        var processed = new (string Type, Func<Task> Publish)[]
        {
            ("ScoreSensitivity", () => bus.Publish(new ScoreSensitivity { RunId = Guid.NewGuid(), ModelId = "malformed-model", BaseVersion = 1 })),
            ("TrainCandidate", () => bus.Publish(new TrainCandidate
            {
                RunId = Guid.NewGuid(), ModelId = "malformed-model", BaseVersion = 1, MaskUri = file.Uri, Sha256 = file.Sha256, SelectedFraction = 0.1,
                AdaptationSetId = Guid.NewGuid(), AdaptationSet = file, ShiftedHoldout = file,
            })),
            ("EvaluateCandidate", () => bus.Publish(new EvaluateCandidate
            {
                RunId = Guid.NewGuid(), ModelId = "malformed-model", BaseVersion = 1, CandidateVersion = 2, ShiftedHoldout = file,
            })),
            ("ModelDeployed", () => bus.Publish(new ModelDeployed
            {
                ModelId = "malformed-model", Version = 1, ArtifactUri = file.Uri, Sha256 = file.Sha256, By = "alice",
            })),
        };
        foreach (var (type, publish) in processed)
        {
            // The consumer itself ran: it finished (ok) or refused the work as unknown (rejected), not a read error.
            double Handled() => PipelineMetrics.ConsumedMessages.WithLabels(type, "ok").Value + PipelineMetrics.ConsumedMessages.WithLabels(type, "rejected").Value;
            var before = Handled();
            await publish();
            Assert.True(await EventuallyAsync(() => Task.FromResult(Handled() > before)), $"{type} was not processed after a malformed message");
        }
    }

    /// <summary>The queues of this test's hosts (not their _error companions): consumers, messages held, and whether temporary (not durable).</summary>
    private static async Task<Dictionary<string, (int Consumers, int Messages, bool Temporary)>> ConsumedQueuesAsync(string prefix)
    {
        var lines = await LeastPrivilegeVhost.CtlAsync("list_queues", "-p", Broker.VirtualHost, "--no-table-headers", "name", "consumers", "messages", "durable");
        static int Int(string s) => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        return lines.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .Where(f => f.Length == 4 && f[0].StartsWith(prefix, StringComparison.Ordinal) && !f[0].EndsWith("_error", StringComparison.Ordinal)
                        && !f[0].EndsWith("_skipped", StringComparison.Ordinal))
            .ToDictionary(f => f[0], f => (Int(f[1]), Int(f[2]), f[3].Trim() == "false"));
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < until)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }
}
