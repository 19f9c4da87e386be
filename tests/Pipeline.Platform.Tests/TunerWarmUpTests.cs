using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Hosting;
using Pipeline.SparseTuning;

namespace Pipeline.Platform.Tests;

/// <summary>The tuner warms libtorch before it takes its first job.</summary>
public sealed class TunerWarmUpTests
{
    private static List<ServiceDescriptor> HostedServices(Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "InMemory",
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = "Data Source=:memory:",
        };
        foreach (var (k, v) in extra)
        {
            settings[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddPipelineServices(configuration, new SparseTuningModule());
        return services.Where(d => d.ServiceType == typeof(IHostedService)).ToList();
    }

    [Fact]
    public void The_warm_up_starts_before_the_bus_that_delivers_jobs()
    {
        var hosted = HostedServices([]);

        var warmUp = hosted.FindIndex(d => d.ImplementationType == typeof(TunerWarmUp));
        var bus = hosted.FindIndex(d => d.ImplementationType?.Namespace?.StartsWith("MassTransit", StringComparison.Ordinal) == true);
        Assert.True(warmUp >= 0, "the tuner registers no warm-up");
        Assert.True(bus >= 0, "no MassTransit hosted service found");
        Assert.True(warmUp < bus, $"the warm-up (hosted service {warmUp}) starts after the bus ({bus}): the first job would find libtorch cold");
        Assert.DoesNotContain(HostedServices(new() { ["Tuning:WarmUp"] = "false" }), d => d.ImplementationType == typeof(TunerWarmUp));
    }

    [Fact]
    public async Task The_warm_up_runs_a_training_step_on_the_configured_device()
    {
        var warmUp = new TunerWarmUp(Options.Create(new TuningServiceOptions { Device = "cpu", BatchSize = 16 }), NullLogger<TunerWarmUp>.Instance);

        await warmUp.StartAsync(CancellationToken.None);

        Assert.NotNull(warmUp.Elapsed);
        Assert.True(warmUp.Elapsed > TimeSpan.Zero);
    }
}
