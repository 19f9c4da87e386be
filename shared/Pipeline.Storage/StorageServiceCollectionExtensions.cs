using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Data;
using Pipeline.Storage.Health;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.Storage;

/// <summary>DI registration of the storage library.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="StorageOptions"/> from the <c>Storage</c> section of <paramref name="configuration"/>
    /// and registers the connection factory, repositories, artifact store, health check,
    /// <see cref="MigrationRunner"/> and the start-up migration hosted service. Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddPipelineStorage(this IServiceCollection services, IConfiguration configuration, Action<StorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName));
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return services.AddPipelineStorageCore();
    }

    /// <summary>Registers storage configured only by code.</summary>
    public static IServiceCollection AddPipelineStorage(this IServiceCollection services, Action<StorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<StorageOptions>().Configure(configure);
        return services.AddPipelineStorageCore();
    }

    /// <summary>
    /// The storage a service host runs with: <see cref="AddPipelineStorage(IServiceCollection, IConfiguration, Action{StorageOptions}?)"/>
    /// and the "database" readiness check (<see cref="DatabaseHealthCheck"/>). Every module that reads or writes the
    /// database calls it; safe to call once per module of a host.
    /// </summary>
    public static IServiceCollection AddServiceStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddPipelineStorage(configuration);
        if (services.All(d => d.ServiceType != typeof(DatabaseHealthCheck)))
        {
            services.AddSingleton<DatabaseHealthCheck>();
            services.AddHealthChecks().AddCheck<DatabaseHealthCheck>(DatabaseHealthCheck.Name, tags: [DatabaseHealthCheck.ReadyTag]);
        }

        return services;
    }

    private static IServiceCollection AddPipelineStorageCore(this IServiceCollection services)
    {
        services.AddOptions<StorageOptions>()
            .Validate(o => o.Provider != StorageProvider.SqlServer || !string.IsNullOrWhiteSpace(o.ConnectionString), "Storage:ConnectionString is required when Storage:Provider is SqlServer.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.ArtifactRoot), "Storage:ArtifactRoot must not be empty.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IDbConnectionFactory>(sp => new DbConnectionFactory(sp.GetRequiredService<IOptions<StorageOptions>>()));
        services.TryAddSingleton<IArtifactStore>(sp => new FileSystemArtifactStore(sp.GetRequiredService<IOptions<StorageOptions>>()));
        services.TryAddSingleton<IDatabaseHealth, DatabaseHealth>();
        services.TryAddSingleton<MigrationRunner>();

        services.TryAddSingleton<IModelRegistry, ModelRegistry>();
        services.TryAddSingleton<IDriftRepository, DriftRepository>();
        services.TryAddSingleton<IAdaptationRunRepository, AdaptationRunRepository>();
        services.TryAddSingleton<IRunStepStore, RunStepStore>();
        services.TryAddSingleton<ITournamentStore, TournamentStore>();
        services.TryAddSingleton<ISensitivityMaskRepository, SensitivityMaskRepository>();
        services.TryAddSingleton<IEvaluationRepository, EvaluationRepository>();
        services.TryAddSingleton<IApprovalRepository, ApprovalRepository>();
        services.TryAddSingleton<IDeploymentRepository, DeploymentRepository>();
        services.TryAddSingleton<IObservationRepository, ObservationRepository>();
        services.TryAddSingleton<IDriftWindowRepository, DriftWindowRepository>();
        services.TryAddSingleton<IAdaptationPauseRepository, AdaptationPauseRepository>();
        services.TryAddSingleton<IInferenceBatchRepository, InferenceBatchRepository>();

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, StorageMigrationHostedService>());
        return services;
    }
}
