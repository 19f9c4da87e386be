using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.AdaptationRuns;
using Pipeline.Artifacts;
using Pipeline.Deployment;
using Pipeline.EvaluationGate;
using Pipeline.Hosting;
using Pipeline.SensitivityScoring;
using Pipeline.SparseTuning;

namespace Pipeline.Packaging.Tests;

/// <summary>The workers warm before they take their first job: libtorch (tuner, scorer, gate), and the run owner's and deployment's reads.</summary>
public sealed class TunerWarmUpTests
{
    internal static List<ServiceDescriptor> HostedServices(IServiceModule module, Dictionary<string, string?> extra)
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
        services.AddPipelineServices(configuration, module);
        return services.Where(d => d.ServiceType == typeof(IHostedService)).ToList();
    }

    public static TheoryData<string> Workers() => ["tuning", "scoring", "gate", "runs", "deployment"];

    internal static (IServiceModule Module, Type WarmUp, string Switch) Worker(string name) => name switch
    {
        "tuning" => (new SparseTuningModule(), typeof(TunerWarmUp), "Tuning:WarmUp"),
        "scoring" => (new SensitivityScoringModule(), typeof(ScorerWarmUp), "Scoring:WarmUp"),
        "gate" => (new EvaluationGateModule(), typeof(GateWarmUp), "Gate:WarmUp"),
        "runs" => (new AdaptationRunsModule(), typeof(RunOwnerWarmUp), "Runs:WarmUp"),
        _ => (new DeploymentModule(), typeof(DeploymentWarmUp), "Deployment:WarmUp"),
    };

    [Theory]
    [MemberData(nameof(Workers))]
    public void The_warm_up_starts_before_the_bus_that_delivers_jobs(string worker)
    {
        var (module, type, off) = Worker(worker);
        var hosted = HostedServices(module, []);

        var warmUp = hosted.FindIndex(d => d.ImplementationType == type);
        var bus = hosted.FindIndex(d => d.ImplementationType?.Namespace?.StartsWith("MassTransit", StringComparison.Ordinal) == true);
        Assert.True(warmUp >= 0, $"the {worker} worker registers no warm-up");
        Assert.True(bus >= 0, "no MassTransit hosted service found");
        Assert.True(warmUp < bus, $"the warm-up (hosted service {warmUp}) starts after the bus ({bus}): the first job would find the worker cold");
        Assert.DoesNotContain(HostedServices(Worker(worker).Module, new() { [off] = "false" }), d => d.ImplementationType == type);
    }

    [Fact]
    public async Task The_warm_up_trains_a_step_and_round_trips_a_model_file_once_per_process_and_device()
    {
        var temp = Directory.GetFiles(Path.GetTempPath(), "pipeline-warm-up-*").Length;
        LibtorchWarmUp.Step(TorchSharp.torch.CPU, 16, 1);
        Assert.Equal(temp, Directory.GetFiles(Path.GetTempPath(), "pipeline-warm-up-*").Length);

        await using var world = await WarmUpWorld.CreateAsync(new SparseTuningModule(), new EvaluationGateModule());
        var first = world.WarmUp<TunerWarmUp>();
        var second = world.WarmUp<GateWarmUp>();
        await first.StartAsync(CancellationToken.None);
        await second.StartAsync(CancellationToken.None);

        Assert.NotNull(first.Elapsed);
        Assert.Equal(TimeSpan.Zero, second.Elapsed); // the process is warm on the CPU already
        Assert.NotNull(second.PathsElapsed); // the gate's own paths are warmed all the same
    }
}
