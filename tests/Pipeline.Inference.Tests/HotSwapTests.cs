using System.Net;
using System.Net.Http.Json;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

public sealed class HotSwapTests
{
    private static Func<IServiceProvider, Task> TwoVersions(int production) => async s =>
    {
        await InferenceHost.RegisterAsync(s, seed: 1);
        await InferenceHost.RegisterAsync(s, seed: 2);
        await InferenceHost.SetProductionAsync(s, production);
    };

    private static PredictionItem Item(Pipeline.ML.Models.Prediction p) =>
        new() { Class = p.Class, Label = "", Confidence = p.Probabilities[p.Class], Probabilities = p.Probabilities };

    private static async Task<PredictResponse> PredictAsync(InferenceHost host, float[][] rows)
    {
        var response = await host.PostJsonAsync("/predict", Data.PredictJson(rows));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
    }

    [Fact]
    public async Task Before_any_model_the_service_stays_up_and_answers_503_until_one_is_deployed()
    {
        await using var host = await InferenceHost.StartAsync();
        var rows = Data.Rows(2, seed: 5);

        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/predict", Data.PredictJson(rows)), HttpStatusCode.ServiceUnavailable,
            "No production version of model 'fashion-mnist' is loaded yet: the registry has no production version of it.", "predict");
        await BadRequestTests.AssertProblemAsync(
            await host.Http.GetAsync("/model"), HttpStatusCode.ServiceUnavailable, "No production version", "model");
        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/feedback", $$"""{"batchId":"{{Guid.NewGuid()}}","labels":[1]}"""),
            HttpStatusCode.ServiceUnavailable, "No production version", "feedback");
        Assert.Equal(HttpStatusCode.OK, (await host.Http.GetAsync("/health/live")).StatusCode);
        Assert.Contains(host.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("No production version", StringComparison.Ordinal));

        await host.RegisterAsync(seed: 1);
        await host.SetProductionAsync(1);
        await host.PublishDeployedAsync(1);
        await host.WaitForVersionAsync(1);

        Data.AssertMatches(await host.ExpectedAsync(1, rows), (await PredictAsync(host, rows)).Predictions);
    }

    [Fact]
    public async Task Deploy_swaps_to_the_new_version_an_older_deploy_is_ignored_and_a_rollback_goes_back()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));
        var rows = Data.Rows(4, seed: 9);
        var expected1 = await host.ExpectedAsync(1, rows);
        var expected2 = await host.ExpectedAsync(2, rows);
        Assert.False(Data.SameProbabilities(expected1, expected2.Select(Item).ToList()));
        Data.AssertMatches(expected1, (await PredictAsync(host, rows)).Predictions);

        var before = (await host.Http.GetFromJsonAsync<ModelStatus>("/model"))!;
        Assert.Equal(1, before.Version);

        await host.SetProductionAsync(2);
        await host.PublishDeployedAsync(2, previous: 1);
        await host.WaitForVersionAsync(2);
        var after = await PredictAsync(host, rows);
        Assert.Equal(2, after.Version);
        Data.AssertMatches(expected2, after.Predictions);
        Assert.False(Data.SameProbabilities(expected1, after.Predictions));
        var status = (await host.Http.GetFromJsonAsync<ModelStatus>("/model"))!;
        Assert.Equal((await host.VersionAsync(2)).Sha256, status.Sha256);
        Assert.True(status.LoadedAt >= before.LoadedAt);

        // A ModelDeployed for an older version (late or duplicated event) does not go back.
        await host.PublishDeployedAsync(1);
        await host.Logs.WaitForAsync(e => e.Message.Contains("Ignored deploy of fashion-mnist v1", StringComparison.Ordinal));
        Assert.Equal(2, host.Model.Current!.Version);

        // A rollback does.
        await host.PublishRolledBackAsync(1, previous: 2);
        await host.WaitForVersionAsync(1);
        Data.AssertMatches(expected1, (await PredictAsync(host, rows)).Predictions);
    }

    [Fact]
    public async Task Events_for_other_models_never_touch_this_model()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));
        var record = await host.VersionAsync(2);

        await host.Services.GetRequiredService<IBus>().Publish(new Pipeline.Contracts.ModelDeployed
        {
            ModelId = "other-model", Version = 2, ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, By = "tests",
        });
        await host.PublishDeployedAsync(2);
        await host.WaitForVersionAsync(2);
        // Every model is served by id, so the other model's event is handled for that model alone: its v2 is not
        // in the registry, so it is refused there, and this model's version is untouched.
        Assert.Equal(2, host.Model.Current!.Version);
        var served = host.Services.GetRequiredService<ServedModels>();
        Assert.Null(served.Find("other-model")?.Current);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains(InferenceHost.ModelId, StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Concurrent_requests_all_succeed_while_the_model_swaps_back_and_forth()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));
        var rows = Data.Rows(8, seed: 11);
        var expected = new Dictionary<int, Pipeline.ML.Models.Prediction[]>
        {
            [1] = await host.ExpectedAsync(1, rows), [2] = await host.ExpectedAsync(2, rows),
        };
        var json = Data.PredictJson(rows);
        var seen = new HashSet<LoadedModel>(ReferenceEqualityComparer.Instance);
        using var done = new CancellationTokenSource();

        var swapping = Task.Run(async () =>
        {
            var swaps = 0;
            while (!done.IsCancellationRequested || swaps < 4)
            {
                var target = swaps % 2 == 0 ? 2 : 1;
                if (target == 2)
                {
                    await host.PublishDeployedAsync(2, previous: 1);
                }
                else
                {
                    await host.PublishRolledBackAsync(1, previous: 2);
                }

                using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
                {
                    while (host.Model.Current?.Version != target)
                    {
                        await Task.Delay(5, wait.Token);
                    }
                }

                lock (seen)
                {
                    seen.Add(host.Model.Current!);
                }

                swaps++;
            }

            return swaps;
        });

        // 200 requests in flight at once, spread over about half a second so they overlap many swaps.
        var requests = Enumerable.Range(0, 200).Select(async i =>
        {
            await Task.Delay(i * 3 % 600);
            var response = await host.PostJsonAsync("/predict", json);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            return System.Text.Json.JsonSerializer.Deserialize<PredictResponse>(text)!;
        }).ToList();
        var responses = await Task.WhenAll(requests);
        await done.CancelAsync();
        var swapCount = await swapping;

        Assert.True(swapCount >= 4, $"only {swapCount} swaps happened");
        Assert.Contains(responses, r => r.Version == 1);
        Assert.Contains(responses, r => r.Version == 2);
        Assert.Equal(200, responses.Length);
        foreach (var r in responses)
        {
            // Each request ran entirely on the version it reports.
            Data.AssertMatches(expected[r.Version], r.Predictions);
        }

        // Every swapped-out model was disposed once its requests finished; only the current one is alive.
        var current = host.Model.Current!;
        Assert.Equal(1, current.References);
        Assert.All(seen.Where(m => !ReferenceEquals(m, current)), m => Assert.True(m.IsDisposed));
    }

    [Fact]
    public async Task A_lease_keeps_the_old_model_alive_across_a_swap_and_the_last_release_disposes_it()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));
        var rows = Data.Rows(2, seed: 3);

        var lease = host.Model.TryAcquire()!;
        var old = lease.Model;
        Assert.Equal(2, old.References);

        var result = await host.Model.SwapToAsync(2, null, SwapTrigger.Deployed, CancellationToken.None);

        Assert.Equal(SwapOutcome.Swapped, result.Outcome);
        Assert.Equal(2, host.Model.Current!.Version);
        Assert.False(old.IsDisposed);
        Assert.Equal(1, old.Version);
        Assert.Equal(1, old.References);
        using (var newLease = host.Model.TryAcquire()!)
        {
            Assert.Equal(2, newLease.Model.Version);
        }

        lease.Dispose();
        Assert.True(old.IsDisposed);
        lease.Dispose(); // idempotent
        Assert.Equal(0, old.References);
        Data.AssertMatches(await host.ExpectedAsync(2, rows), (await PredictAsync(host, rows)).Predictions);
    }

    [Fact]
    public async Task A_tampered_artifact_is_refused_and_the_old_model_keeps_serving()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));
        var rows = Data.Rows(3, seed: 4);
        var v2 = await host.VersionAsync(2);
        var path = Path.Combine(host.ArtifactRoot, v2.ArtifactUri["artifact://".Length..]);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^1] ^= 0x5a;
        await File.WriteAllBytesAsync(path, bytes);

        await host.PublishDeployedAsync(2, previous: 1);

        var error = await host.Logs.WaitForAsync(e => e.Level == LogLevel.Error && e.Message.Contains("Refused to swap fashion-mnist to v2", StringComparison.Ordinal));
        Assert.IsType<Pipeline.Storage.Artifacts.ArtifactIntegrityException>(error.Exception);
        Assert.Equal(1, host.Model.Current!.Version);
        Assert.Equal(1, (await host.Http.GetFromJsonAsync<ModelStatus>("/model"))!.Version);
        var response = await PredictAsync(host, rows);
        Assert.Equal(1, response.Version);
        Data.AssertMatches(await host.ExpectedAsync(1, rows), response.Predictions);
    }

    [Fact]
    public async Task A_deploy_whose_sha_differs_from_the_registry_is_refused()
    {
        await using var host = await InferenceHost.StartAsync(TwoVersions(production: 1));

        await host.PublishDeployedAsync(2, previous: 1, sha256: new string('a', 64));

        var error = await host.Logs.WaitForAsync(e => e.Level == LogLevel.Error && e.Message.Contains("Refused to swap", StringComparison.Ordinal));
        Assert.IsType<ModelRefusedException>(error.Exception);
        Assert.Equal(1, host.Model.Current!.Version);
    }

    [Fact]
    public async Task A_tampered_production_artifact_at_start_leaves_the_service_up_without_a_model()
    {
        await using var host = await InferenceHost.StartAsync(async s =>
        {
            var v1 = await InferenceHost.RegisterAsync(s, seed: 1);
            await InferenceHost.SetProductionAsync(s, 1);
            var root = s.GetRequiredService<Microsoft.Extensions.Options.IOptions<Pipeline.Storage.StorageOptions>>().Value.ArtifactRoot;
            await File.AppendAllTextAsync(Path.Combine(root, v1.ArtifactUri["artifact://".Length..]), "x");
        });

        Assert.Null(host.Model.Current);
        // The 503 says why: the version was refused because its SHA-256 check failed.
        await BadRequestTests.AssertProblemAsync(
            await host.PostJsonAsync("/predict", Data.PredictJson(Data.Rows(1, 1))), HttpStatusCode.ServiceUnavailable,
            "v1 was refused at", "tampered");
        await BadRequestTests.AssertProblemAsync(
            await host.Http.GetAsync("/model"), HttpStatusCode.ServiceUnavailable, "failed SHA-256 verification", "tampered model");
        Assert.Contains(host.Logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("Refused to swap", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_refresh_picks_up_a_production_change_whose_event_was_missed()
    {
        await using var host = await InferenceHost.StartAsync(
            seed: null, extra: new Dictionary<string, string?> { ["Inference:RefreshInterval"] = "00:00:00.200" });

        await host.RegisterAsync(seed: 1);
        await host.SetProductionAsync(1);

        await host.WaitForVersionAsync(1);
    }

    [Fact]
    public void Every_replica_gets_its_own_temporary_model_events_queue()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(
            new Dictionary<string, string?> { ["Messaging:EndpointPrefix"] = "test" }).Build();
        var a = new InferenceModule();
        var b = new InferenceModule();
        a.ConfigureServices(new ServiceCollection(), config);
        b.ConfigureServices(new ServiceCollection(), config);

        Assert.StartsWith("test-inference-model-events-", a.ModelEventsEndpoint, StringComparison.Ordinal);
        Assert.NotEqual(a.ModelEventsEndpoint, b.ModelEventsEndpoint);
    }

    [Fact]
    public async Task The_model_events_endpoint_is_temporary_and_carries_both_consumers()
    {
        await using var host = await InferenceHost.StartAsync();
        var probe = host.Services.GetRequiredService<IBusControl>().GetProbeResult();
        var json = System.Text.Json.JsonSerializer.Serialize(probe);
        Assert.Contains("inference-model-events-", json, StringComparison.Ordinal);
        Assert.Contains("ModelDeployedConsumer", json, StringComparison.Ordinal);
        Assert.Contains("ModelRolledBackConsumer", json, StringComparison.Ordinal);
    }
}
