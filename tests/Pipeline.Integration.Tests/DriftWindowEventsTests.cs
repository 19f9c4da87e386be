using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.DriftDetection;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>Collects DriftWindowEvaluated as any subscriber (bench load, a dashboard) would.</summary>
public sealed class DriftWindowLogModule : IServiceModule
{
    public ConcurrentQueue<DriftWindowEvaluated> Windows { get; } = new();

    public string Name => "drift-window-log";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) => services.AddSingleton(this);

    public void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<DriftWindowLogConsumer>();

    /// <summary>Waits until the windows account for <paramref name="rows"/> rows.</summary>
    public async Task<List<DriftWindowEvaluated>> WaitForRowsAsync(int rows, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Windows.Sum(w => w.Batches.Sum(b => b.Rows)) < rows)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"windows account for {Windows.Sum(w => w.Batches.Sum(b => b.Rows))} of {rows} rows after {timeout}\n{diagnostics?.Invoke()}");
            }

            await Task.Delay(100);
        }

        return [.. Windows];
    }
}

public sealed class DriftWindowLogConsumer(DriftWindowLogModule log) : IConsumer<DriftWindowEvaluated>
{
    public Task Consume(ConsumeContext<DriftWindowEvaluated> context)
    {
        log.Windows.Enqueue(context.Message);
        return Task.CompletedTask;
    }
}

/// <summary>DriftDetection announces every evaluated window with the batch rows that were new in it.</summary>
public class DriftWindowEventsTests
{
    [Fact]
    public async Task Every_window_is_announced_and_its_segments_cover_each_accepted_row_of_each_batch_exactly_once()
    {
        await using var hosts = new ServiceHosts("window-events");
        var log = new DriftWindowLogModule();
        var drift = await hosts.StartAsync([new DriftDetectionModule(), log], new Dictionary<string, string?>
        {
            ["DriftDetection:WindowSize"] = "100", ["DriftDetection:MmdPermutations"] = "20", ["DriftDetection:MaxReferenceRows"] = "300",
            ["DriftDetection:UseEmbeddings"] = "false",
        });
        await Seed.BaseModelAsync(drift.Services, "events-model");
        var datasets = new DatasetArtifacts(drift.Services.GetRequiredService<IArtifactStore>());
        var sizes = new[] { 70, 80, 50, 120, 80 }; // 400 rows: four windows of 100
        var sent = new Dictionary<Guid, (int Rows, DateTimeOffset At)>();
        var bus = drift.Services.GetRequiredService<IBus>();
        for (var i = 0; i < sizes.Length; i++)
        {
            var rows = Synthetic.Rows(sizes[i], seed: 30 + i, shifted: false);
            var id = Guid.NewGuid();
            var at = DateTimeOffset.UtcNow.AddSeconds(-i);
            var payload = await datasets.SaveAsync(rows, "observations", $"events-model/{id}.pfb", CancellationToken.None);
            await bus.Publish(new ObservationsIngested
            {
                ModelId = "events-model", ModelVersion = 1, BatchId = id, Features = payload, Count = sizes[i],
                FeatureCount = rows.Columns, Predictions = new int[sizes[i]], Timestamp = at,
            });
            sent[id] = (sizes[i], at);
        }

        var windows = await log.WaitForRowsAsync(400, TimeSpan.FromSeconds(90));
        Assert.Equal(4, windows.Count);
        Assert.All(windows, w =>
        {
            Assert.Equal(100, w.Rows);
            Assert.Equal("ok", w.Status);
            Assert.Equal(100, w.Batches.Sum(b => b.Rows));
        });
        var counted = windows.SelectMany(w => w.Batches).GroupBy(b => b.BatchId).ToDictionary(g => g.Key, g => g.Sum(b => b.Rows));
        Assert.Equal(sent.ToDictionary(s => s.Key, s => s.Value.Rows), counted);
        Assert.All(windows.SelectMany(w => w.Batches), b => Assert.Equal(sent[b.BatchId].At, b.AcceptedAt));
        // The announced ids are the stored reports' window ids, each once.
        var stored = await drift.Services.GetRequiredService<IDriftRepository>().ListReportsAsync("events-model");
        Assert.Equal(stored.Select(r => r.WindowId).Order(), windows.Select(w => w.WindowId).Order());
        Assert.Equal(4, windows.Select(w => w.WindowId).Distinct().Count());
    }
}
