using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// Two DriftDetection replicas (real processes) share the models through a partition queue with a single
/// active consumer (one partition: no consistent-hash plugin needed on the test broker). The active one is SIGKILLed with a window open; the other takes the partition over,
/// rebuilds the open window from the stored batches and goes on: every row of every batch is counted in
/// exactly one stored window, window ids stay unique, and no announced window counts a row twice.
/// </summary>
[Collection("faults")]
public class DriftReplicaTests
{
    private const string Model = "replica-model";

    [Fact]
    public async Task Killing_the_active_replica_mid_window_loses_no_row_and_counts_none_twice()
    {
        await using var hosts = new ServiceHosts("replicas");
        var log = new DriftWindowLogModule();
        var client = await hosts.StartAsync([log]);
        var passwords = await BrokerUsers.ApplyAsync(Environment.GetEnvironmentVariable("RABBITMQ_NODENAME") ?? "rabbit@localhost", Broker.VirtualHost);
        await Seed.BaseModelAsync(client.Services, Model);
        var settings = hosts.Settings(new Dictionary<string, string?>
        {
            ["Messaging:Username"] = "drift-detection", ["Messaging:Password"] = passwords["drift-detection"],
            ["DriftDetection:Partitions"] = "1", ["DriftDetection:WindowSize"] = "100", ["DriftDetection:MmdPermutations"] = "20",
            ["DriftDetection:MaxReferenceRows"] = "300", ["DriftDetection:UseEmbeddings"] = "false",
        });
        await using var a = new ServiceProcess("DriftDetection", settings, hosts.Directory + "/a");
        await using var b = new ServiceProcess("DriftDetection", settings, hosts.Directory + "/b");
        Directory.CreateDirectory(hosts.Directory + "/a");
        Directory.CreateDirectory(hosts.Directory + "/b");
        await Task.WhenAll(a.StartAsync(FaultWorld.StartTimeout), b.StartAsync(FaultWorld.StartTimeout));
        string Logs() => $"== replica a\n{a.Tail(30)}\n== replica b\n{b.Tail(30)}";

        var sent = new Dictionary<string, int>();
        var bus = client.Services.GetRequiredService<IBus>();
        var datasets = new DatasetArtifacts(client.Services.GetRequiredService<IArtifactStore>());
        var batches = client.Services.GetRequiredService<IObservationRepository>();
        async Task SendAsync(int rows, int seed)
        {
            var id = Guid.NewGuid();
            var blob = Synthetic.Rows(rows, seed, shifted: false);
            var payload = await datasets.SaveAsync(blob, "observations", $"{Model}/{id}.pfb", CancellationToken.None);
            await bus.Publish(new ObservationsIngested
            {
                ModelId = Model, ModelVersion = 1, BatchId = id, Features = payload, Count = rows, FeatureCount = blob.Columns,
                Predictions = new int[rows], Confidences = Enumerable.Repeat(0.9f, rows).ToArray(),
            });
            sent[id.ToString()] = rows;
        }

        // Two windows close; 80 rows stay in the open window of the active replica.
        foreach (var (rows, seed) in new[] { (60, 1), (70, 2), (50, 3), (70, 4), (30, 5) })
        {
            await SendAsync(rows, seed);
        }

        await log.WaitForRowsAsync(200, TimeSpan.FromSeconds(60), Logs);
        await WaitUntilAsync(async () => (await batches.GetStatsAsync(Model)).Rows == 280, TimeSpan.FromSeconds(30), Logs);
        var active = a.Tail(200).Contains($"Window {Model}-v1-w", StringComparison.Ordinal) ? a : b;
        var standby = active == a ? b : a;
        Assert.DoesNotContain($"Window {Model}-v1-w", standby.Tail(200), StringComparison.Ordinal);
        await active.KillAsync();

        // The standby gets the partition, rebuilds the open window from storage and counts the rest.
        foreach (var (rows, seed) in new[] { (40, 6), (90, 7), (60, 8), (30, 9) })
        {
            await SendAsync(rows, seed);
        }

        var windows = client.Services.GetRequiredService<IDriftWindowRepository>();
        IReadOnlyList<DriftWindowSegment> segments = [];
        await WaitUntilAsync(async () => (segments = await windows.ListSegmentsAsync(Model)).Sum(s => s.Rows) >= 500, TimeSpan.FromSeconds(60), Logs);
        Assert.Contains("80 stored rows replayed", standby.Tail(400), StringComparison.Ordinal);

        // Stored assignments: every row of every batch in exactly one window.
        Assert.Equal(500, segments.Sum(s => s.Rows));
        Assert.Equal(sent.OrderBy(s => s.Key), segments.GroupBy(s => s.BatchId).Select(g => KeyValuePair.Create(g.Key, g.Sum(s => s.Rows))).OrderBy(s => s.Key));
        Assert.All(segments.GroupBy(s => s.WindowSeq), w => Assert.Equal(100, w.Sum(s => s.Rows)));
        Assert.Equal([1L, 2, 3, 4, 5], segments.Select(s => s.WindowSeq).Distinct().Order());
        var reports = await client.Services.GetRequiredService<IDriftRepository>().ListReportsAsync(Model);
        Assert.Equal(5, reports.Count);
        Assert.Equal(5, reports.Select(r => r.WindowId).Distinct().Count());

        // Announced windows: stored ones, none twice, no row twice (an event of a window stored just before
        // the kill may be lost: the stored assignment is the record).
        await log.WaitForRowsAsync(500 - 100, TimeSpan.FromSeconds(20), Logs);
        var announced = log.Windows.ToList();
        Assert.Equal(announced.Count, announced.Select(w => w.WindowId).Distinct().Count());
        Assert.All(announced, w => Assert.Contains(w.WindowId, reports.Select(r => r.WindowId)));
        Assert.All(announced.SelectMany(w => w.Batches).GroupBy(s => s.BatchId.ToString()), g => Assert.True(g.Sum(s => s.Rows) <= sent[g.Key]));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> diagnostics)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {timeout}\n{diagnostics()}");
            }

            await Task.Delay(200);
        }
    }
}
