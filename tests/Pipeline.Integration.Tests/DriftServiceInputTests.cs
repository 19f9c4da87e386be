using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.DriftDetection;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>The DriftDetection service on bad production data: it reports, it never crashes or drops a window silently.</summary>
public class DriftServiceInputTests
{
    private static async Task<PayloadRef> StoreAsync(IServiceProvider services, FeatureBlob rows, string name) =>
        await new DatasetArtifacts(services.GetRequiredService<IArtifactStore>()).SaveAsync(rows, "observations", name, CancellationToken.None);

    [Fact]
    public async Task Rows_with_nan_or_infinity_are_rejected_and_counted_while_the_window_is_still_evaluated_and_stored()
    {
        await using var hosts = new ServiceHosts("nan");
        var drift = await hosts.StartAsync([new DriftDetectionModule()], new Dictionary<string, string?>
        {
            ["DriftDetection:WindowSize"] = "100", ["DriftDetection:MmdPermutations"] = "20", ["DriftDetection:MaxReferenceRows"] = "300",
        });
        await Seed.BaseModelAsync(drift.Services, "nan-model");
        var rows = Synthetic.Rows(150, seed: 5, shifted: false);
        rows.Features[3] = float.NaN;                    // row 0
        rows.Features[(7 * rows.Columns) + 10] = float.PositiveInfinity; // row 7

        var payload = await StoreAsync(drift.Services, rows, "nan-model/b1.pfb");
        await (await hosts.PublisherAsync()).Publish(new ObservationsIngested
        {
            ModelId = "nan-model", ModelVersion = 1, BatchId = Guid.NewGuid(), Features = payload, Count = 150,
            FeatureCount = rows.Columns, Predictions = new int[150],
        });

        var reports = drift.Services.GetRequiredService<IDriftRepository>();
        IReadOnlyList<DriftReport> stored = [];
        for (var i = 0; i < 150 && stored.Count == 0; i++)
        {
            await Task.Delay(200);
            stored = await reports.ListReportsAsync("nan-model");
        }

        // 148 good rows: one full window of 100 is evaluated and stored; the rest waits for more rows.
        var report = Assert.Single(stored);
        Assert.Equal(100, report.RowCount);
        Assert.False(report.DatasetDrift);
        var batches = await drift.Services.GetRequiredService<IObservationRepository>().ListBatchesAsync("nan-model");
        Assert.Equal(150, Assert.Single(batches).RowCount); // the batch itself is kept whole
    }

    [Fact]
    public async Task A_batch_whose_features_do_not_match_its_declared_shape_goes_to_the_error_queue_with_the_reason()
    {
        await using var hosts = new ServiceHosts("shape");
        var drift = await hosts.StartAsync([new DriftDetectionModule()]);
        var rows = Synthetic.Rows(10, seed: 6, shifted: false);
        var payload = await StoreAsync(drift.Services, rows, "shape-model/b1.pfb");

        await (await hosts.PublisherAsync()).Publish(new ObservationsIngested
        {
            ModelId = "shape-model", ModelVersion = 1, BatchId = Guid.NewGuid(), Features = payload, Count = 12,
            FeatureCount = rows.Columns, Predictions = new int[12],
        });

        await using var connection = await Broker.ConnectAsync();
        var queue = new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<ObservationsIngestedConsumer>();
        var faulted = await Broker.GetAsync(connection, queue + "_error", TimeSpan.FromSeconds(30));
        Assert.NotNull(faulted);
        var reason = Encoding.UTF8.GetString((byte[])faulted.BasicProperties.Headers!["MT-Fault-Message"]!);
        Assert.Contains("10 × 784", reason, StringComparison.Ordinal);
        Assert.Empty(await drift.Services.GetRequiredService<IObservationRepository>().ListBatchesAsync("shape-model"));
    }
}
