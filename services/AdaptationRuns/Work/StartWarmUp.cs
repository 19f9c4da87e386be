using System.Reflection;
using System.Text.Json;
using MassTransit.Serialization;
using Pipeline.Storage.Repositories;

namespace Pipeline.AdaptationRuns;

/// <summary>
/// What the run owner and every stage worker do at start, before their bus takes the first message:
/// the message contracts through the JSON options MassTransit reads and writes them with, and the run and registry
/// reads a job makes, for ids no row has. Reads only: nothing is written.
/// </summary>
public static class StartWarmUp
{
    /// <summary>A model id for the read-only queries: random, so that no registered model is read by accident.</summary>
    public static string ScratchModelId() => $"warm-up-{Guid.NewGuid():N}";

    /// <summary>
    /// Builds (and uses once) the JSON metadata of every message contract with the options MassTransit reads and writes
    /// them with, so the first message of each type is not the one that pays for reflection. Returns the types warmed.
    /// </summary>
    public static int WarmContracts()
    {
        var options = SystemTextJsonMessageSerializer.Options;
        var count = 0;
        foreach (var type in typeof(Contracts.StartAdaptation).Assembly.GetExportedTypes().Where(IsMessage))
        {
            options.GetTypeInfo(type);
            try
            {
                var json = JsonSerializer.Serialize(System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(type), type, options);
                JsonSerializer.Deserialize(json, type, options);
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
            {
                // An empty instance need not be a valid message (required members); the metadata is built all the same.
            }

            count++;
        }

        return count;
    }

    private static bool IsMessage(Type t) =>
        t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false } && t.Namespace == typeof(Contracts.StartAdaptation).Namespace
        && !typeof(Delegate).IsAssignableFrom(t) && !typeof(Exception).IsAssignableFrom(t) && t.GetCustomAttribute<ObsoleteAttribute>() is null;

    /// <summary>The storage reads every stage worker makes before its job (the run's state, a model's versions), for ids no row has.</summary>
    public static async Task WarmReadsAsync(IAdaptationRunRepository runs, IModelRegistry registry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(registry);
        var model = ScratchModelId();
        await runs.GetAsync(Guid.NewGuid(), ct);
        await registry.GetVersionAsync(model, 1, ct);
        await registry.ListVersionsAsync(model, ct);
        await registry.GetProductionAsync(model, ct);
    }

}
