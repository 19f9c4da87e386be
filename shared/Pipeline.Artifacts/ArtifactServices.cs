using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Pipeline.Artifacts;

public static class ArtifactServices
{
    public static IServiceCollection AddArtifacts(this IServiceCollection services)
    {
        services.TryAddSingleton<ModelArtifacts>();
        services.TryAddSingleton<DatasetArtifacts>();
        return services;
    }
}
