using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Inference;

/// <summary>
/// Every model this replica serves, one <see cref="ProductionModel"/> each (swapped and leased independently).
/// The configured default model always exists; any other model joins when it is first deployed or when the
/// registry lists a production version for it.
/// </summary>
public sealed class ServedModels(
    ProductionModel defaultModel, ModelArtifacts artifacts, IModelRegistry registry, IOptions<InferenceOptions> options,
    TimeProvider time, ILogger<ProductionModel> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, ProductionModel> models = new(StringComparer.Ordinal)
    {
        [defaultModel.ModelId] = defaultModel,
    };

    private volatile bool startupLoaded;

    public ProductionModel Default => defaultModel;

    /// <summary>True once the start-up pass over the registry finished (each production model loaded and warmed, or refused).</summary>
    public bool StartupLoaded => startupLoaded;

    /// <summary>Called by the loader after its start-up pass, whatever its outcome (a failed pass is retried by refresh).</summary>
    internal void MarkStartupLoaded() => startupLoaded = true;

    /// <summary>The models known here, whether or not a version is loaded yet.</summary>
    public IReadOnlyCollection<ProductionModel> All => models.Values.ToList();

    /// <summary>The model's holder, created (empty) on first use.</summary>
    public ProductionModel Get(string modelId) =>
        models.GetOrAdd(modelId, id => new ProductionModel(id, artifacts, registry, options, time, logger));

    /// <summary>The model's holder when it is known here.</summary>
    public ProductionModel? Find(string modelId) => models.GetValueOrDefault(modelId);

    /// <summary>Loads the production version of every model the registry knows (start-up and periodic refresh).</summary>
    public async Task LoadAllAsync(SwapTrigger trigger, CancellationToken ct)
    {
        foreach (var m in await registry.ListModelsAsync(ct))
        {
            if (models.ContainsKey(m.ModelId) || await registry.GetProductionAsync(m.ModelId, ct) is not null)
            {
                await Get(m.ModelId).LoadProductionAsync(trigger, ct);
            }
        }

        if (!(await registry.ListModelsAsync(ct)).Any(m => m.ModelId == defaultModel.ModelId))
        {
            await defaultModel.LoadProductionAsync(trigger, ct);
        }
    }

    public void Dispose()
    {
        foreach (var m in models.Values.Where(m => !ReferenceEquals(m, defaultModel)))
        {
            m.Dispose();
        }
    }
}
