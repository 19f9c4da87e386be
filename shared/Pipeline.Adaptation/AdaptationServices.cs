using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Pipeline.Adaptation;

public static class AdaptationServices
{
    public static IServiceCollection AddAdaptationArtifacts(this IServiceCollection services)
    {
        services.TryAddSingleton<ModelArtifacts>();
        services.TryAddSingleton<DatasetArtifacts>();
        return services;
    }
}
