using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Contracts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// SIGKILL of Inference (its Host executable, under its own broker user) while it swaps a model in: as it takes a
/// deployment, and as it takes a rollback. Restarted, it serves the version the registry has in production, not the
/// one it served before the kill, and not a half-loaded one.
/// </summary>
[Collection("faults")]
public sealed class InferenceCrashTests : IAsyncLifetime
{
    private const string Model = "fault-inference";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ServiceHosts hosts = new("inference-crash");
    private IHost? store;
    private ServiceProcess? inference;

    [Fact]
    public async Task Inference_killed_during_a_hot_swap_and_a_rollback_serves_the_production_version_after_restart()
    {
        var registry = store!.Services.GetRequiredService<IModelRegistry>();
        // The publisher stands for Deployment, whose announcements Inference takes.
        var publisher = store.Services.GetRequiredService<IBus>();
        Assert.Equal(1, await ServedVersionAsync());

        // Deployment moved the alias to v2 and announced it; Inference dies while it loads v2.
        var v2 = (await registry.ListVersionsAsync(Model)).Single(v => v.Version == 2);
        await registry.SetProductionAsync(Model, 2, "test", "deploy v2");
        await publisher.Publish(new ModelDeployed { ModelId = Model, Version = 2, PreviousVersion = 1, ArtifactUri = v2.ArtifactUri, Sha256 = v2.Sha256, By = "test" });
        await Task.Delay(150);
        await inference!.KillAsync();
        await inference.StartAsync(FaultWorld.StartTimeout);
        Assert.Equal(2, await ServedVersionAsync());

        // An operator's rollback to v1; Inference dies while it swaps back.
        var v1 = (await registry.ListVersionsAsync(Model)).Single(v => v.Version == 1);
        await registry.SetProductionAsync(Model, 1, "alice", "roll back");
        await publisher.Publish(new ModelRolledBack { ModelId = Model, Version = 1, PreviousVersion = 2, ArtifactUri = v1.ArtifactUri, Sha256 = v1.Sha256, By = "alice", Reason = "roll back" });
        await Task.Delay(150);
        await inference.KillAsync();
        await inference.StartAsync(FaultWorld.StartTimeout);
        Assert.Equal(1, await ServedVersionAsync());
    }

    public async Task InitializeAsync()
    {
        store = await hosts.StartAsync([new PublisherModule()]);
        await Seed.BaseModelAsync(store.Services, Model);
        await Seed.ExtraVersionAsync(store.Services, Model, 2);
        var settings = hosts.Settings(new Dictionary<string, string?>
        {
            ["Messaging:Username"] = "inference", ["Messaging:Password"] = BrokerUsers.TestPassword("inference"),
            ["Inference:ModelId"] = Model, ["Inference:Device"] = "cpu", ["Inference:Auth:Enabled"] = "false",
        });
        inference = new ServiceProcess("Inference", settings, hosts.Directory);
        await inference.StartAsync(FaultWorld.StartTimeout);
    }

    public async Task DisposeAsync()
    {
        if (inference is not null)
        {
            await inference.DisposeAsync();
        }

        await hosts.DisposeAsync();
    }

    /// <summary>The version Inference serves, once it has one (it is ready only after loading and warming it).</summary>
    private async Task<int> ServedVersionAsync()
    {
        var status = await Http.GetFromJsonAsync<JsonElement>(new Uri(inference!.Url, $"/models/{Model}"));
        return status.GetProperty("version").GetInt32();
    }
}
