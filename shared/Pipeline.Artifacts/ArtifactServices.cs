using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Pipeline.Hosting;
using Pipeline.Storage;

namespace Pipeline.Artifacts;

public static class ArtifactServices
{
    public static IServiceCollection AddArtifacts(this IServiceCollection services)
    {
        services.TryAddSingleton<ModelArtifacts>();
        services.TryAddSingleton<DatasetArtifacts>();
        return services;
    }

    /// <summary>
    /// What a worker that runs models registers besides its own parts: the service's storage, the artifacts, its
    /// options (section <paramref name="section"/>, validated at start) and its warm-up <typeparamref name="TWarmUp"/>
    /// unless <c>{section}:WarmUp</c> is false. Modules call this before the bus is added
    /// (AddPipelineServices adds MassTransit after the modules, and hosted services start in order).
    /// </summary>
    public static IServiceCollection AddModelWorker<TOptions, TWarmUp>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
        where TWarmUp : class, IHostedService
    {
        services.AddServiceStorage(configuration);
        services.AddValidatedOptions<TOptions>(configuration, section);
        services.AddArtifacts();
        if (configuration.GetValue(section + ":WarmUp", true))
        {
            services.AddHostedService<TWarmUp>();
        }

        return services;
    }
}
