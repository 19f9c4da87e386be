using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.DriftDetection;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>The DriftDetection service acts on harm: a shift the model handles is recorded, with its reason, and starts no run.</summary>
public class DriftHarmTests
{
    [Fact]
    public async Task A_harmless_shift_is_recorded_as_drift_without_harm_and_starts_no_run_while_a_harmful_one_does()
    {
        await using var hosts = new ServiceHosts("harm");
        await hosts.StartAsync([new AdaptationRuns.AdaptationRunsModule()]); // the run's owner starts the run DriftDetected asks for
        var drift = await hosts.StartAsync([new DriftDetectionModule()], new Dictionary<string, string?>
        {
            ["DriftDetection:WindowSize"] = "200", ["DriftDetection:ConsecutiveWindowsToRaise"] = "1", ["DriftDetection:Cooldown"] = "00:00:00",
            ["DriftDetection:MmdPermutations"] = "20", ["DriftDetection:MaxReferenceRows"] = "300", ["DriftDetection:MinLabelledRows"] = "200",
        });
        var services = drift.Services;
        await Seed.BaseModelAsync(services, "harm-model");
        var models = services.GetRequiredService<ModelArtifacts>();
        var (loaded, _) = await models.LoadAsync("harm-model", 1, "cpu", CancellationToken.None);
        using var model = loaded;

        // Brighter images: every pixel statistic moves, the model still recognises the templates.
        var brighter = Synthetic.Rows(200, seed: 21, shifted: false);
        for (var i = 0; i < brighter.Features.Length; i++)
        {
            brighter.Features[i] = Math.Min(1f, brighter.Features[i] + 0.15f);
        }

        await IngestAsync(hosts, services, model, "harm-model", brighter);
        var reports = services.GetRequiredService<IDriftRepository>();
        var harmless = await WaitForReportAsync(reports, "harm-model", 1);
        Assert.True(harmless.DatasetDrift);
        var trigger = JsonDocument.Parse(harmless.ReportJson!).RootElement.GetProperty("trigger");
        Assert.Equal("drift_without_harm", trigger.GetProperty("outcome").GetString());
        Assert.StartsWith("drift without harm", trigger.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("labelled rows", trigger.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Null(await services.GetRequiredService<IAdaptationRunRepository>().GetActiveRunAsync("harm-model"));

        // Inverted images: the model fails on them, and the labels say so: a run starts.
        await IngestAsync(hosts, services, model, "harm-model", Synthetic.Rows(200, seed: 22, shifted: true));
        var harmful = await WaitForReportAsync(reports, "harm-model", 2);
        var second = JsonDocument.Parse(harmful.ReportJson!).RootElement.GetProperty("trigger");
        Assert.Equal("drift_with_harm", second.GetProperty("outcome").GetString());
        var run = await WaitForRunAsync(services, "harm-model"); // the report is stored before the owner starts the run
        Assert.NotNull(run);
        Assert.Equal(1, run.BaseVersion);
    }

    [Fact]
    public async Task Late_feedback_that_shows_the_model_wrong_starts_a_run_the_confidence_did_not()
    {
        await using var hosts = new ServiceHosts("feedback");
        await hosts.StartAsync([new AdaptationRuns.AdaptationRunsModule()]);
        var drift = await hosts.StartAsync([new DriftDetectionModule()], new Dictionary<string, string?>
        {
            ["DriftDetection:WindowSize"] = "200", ["DriftDetection:ConsecutiveWindowsToRaise"] = "1", ["DriftDetection:Cooldown"] = "00:00:00",
            ["DriftDetection:MmdPermutations"] = "20", ["DriftDetection:MaxReferenceRows"] = "300", ["DriftDetection:MinLabelledRows"] = "200",
            // Only a collapse counts as harm here, so the confidence of brighter images cannot start the run: the feedback must.
            ["DriftDetection:MinAccuracyDrop"] = "0.5",
        });
        var services = drift.Services;
        await Seed.BaseModelAsync(services, "late-model");
        var (loaded, _) = await services.GetRequiredService<ModelArtifacts>().LoadAsync("late-model", 1, "cpu", CancellationToken.None);
        using var model = loaded;
        FeatureBlob Brighter(int seed)
        {
            var rows = Synthetic.Rows(200, seed, shifted: false);
            for (var i = 0; i < rows.Features.Length; i++)
            {
                rows.Features[i] = Math.Min(1f, rows.Features[i] + 0.15f);
            }

            return new FeatureBlob(rows.Rows, rows.Columns, rows.Features, null);
        }

        // Confident predictions, no labels: the estimate sees no harm.
        var first = Brighter(31);
        var batchId = await IngestAsync(hosts, services, model, "late-model", first);
        var reports = services.GetRequiredService<IDriftRepository>();
        var calm = JsonDocument.Parse((await WaitForReportAsync(reports, "late-model", 1)).ReportJson!).RootElement.GetProperty("trigger");
        // Without labels the estimate either sees no harm or, when its estimators disagree on these inputs, says it cannot tell.
        Assert.Contains(calm.GetProperty("outcome").GetString(), new[] { "drift_without_harm", "drift_labels_needed" });
        Assert.False(calm.GetProperty("startRun").GetBoolean());

        // The labels come back later and say the world changed meaning (a concept shift): every prediction was wrong.
        var predicted = model.Predict(Enumerable.Range(0, first.Rows).Select(i => first.Row(i).ToArray()).ToArray());
        await (await hosts.PublisherAsync()).Publish(new LabelsObserved
        {
            ModelId = "late-model", BatchId = batchId, Labels = predicted.Select(p => (p.Class + 1) % 10).ToArray(),
        });
        var observations = services.GetRequiredService<IObservationRepository>();
        for (var i = 0; i < 100 && (await observations.GetBatchAsync("late-model", batchId.ToString()))?.Labels is null; i++)
        {
            await Task.Delay(100);
        }

        await Task.Delay(1000); // the consumer hands the feedback to the monitor right after storing it
        await IngestAsync(hosts, services, model, "late-model", Brighter(32));
        var hurt = JsonDocument.Parse((await WaitForReportAsync(reports, "late-model", 2)).ReportJson!).RootElement.GetProperty("trigger");
        Assert.Equal("drift_with_harm", hurt.GetProperty("outcome").GetString());
        Assert.Contains("observed accuracy 0.0 % on 200 labelled rows", hurt.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.NotNull(await WaitForRunAsync(services, "late-model"));
    }

    private static async Task<Guid> IngestAsync(ServiceHosts hosts, IServiceProvider services, ML.Models.ModelBundle model, string modelId, FeatureBlob rows)
    {
        var vectors = Enumerable.Range(0, rows.Rows).Select(i => rows.Row(i).ToArray()).ToArray();
        var predicted = model.Predict(vectors);
        var payload = await new DatasetArtifacts(services.GetRequiredService<IArtifactStore>())
            .SaveAsync(rows, "observations", $"{modelId}/{Guid.NewGuid()}.pfb", CancellationToken.None);
        var batchId = Guid.NewGuid();
        await (await hosts.PublisherAsync()).Publish(new ObservationsIngested
        {
            ModelId = modelId, ModelVersion = 1, BatchId = batchId, Features = payload, Count = rows.Rows, FeatureCount = rows.Columns,
            Predictions = predicted.Select(p => p.Class).ToArray(),
            Confidences = predicted.Select(p => p.Probabilities[p.Class]).ToArray(),
            Labels = rows.Labels,
        });
        return batchId;
    }

    private static async Task<AdaptationRun?> WaitForRunAsync(IServiceProvider services, string modelId)
    {
        var runs = services.GetRequiredService<IAdaptationRunRepository>();
        for (var i = 0; i < 50; i++)
        {
            if (await runs.GetActiveRunAsync(modelId) is { } run)
            {
                return run;
            }

            await Task.Delay(100);
        }

        return null;
    }

    private static async Task<DriftReport> WaitForReportAsync(IDriftRepository reports, string modelId, int count)
    {
        for (var i = 0; i < 300; i++)
        {
            var stored = await reports.ListReportsAsync(modelId);
            if (stored.Count >= count)
            {
                return stored.OrderBy(r => r.CreatedAt).ElementAt(count - 1);
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{count} drift report(s) of {modelId} did not arrive");
    }
}
