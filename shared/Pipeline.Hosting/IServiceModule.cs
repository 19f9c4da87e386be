using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Hosting;

/// <summary>
/// One service of the pipeline: its own options and library services, and the consumers it owns.
/// A service host runs one module; the Standalone host runs all of them in one process.
/// </summary>
public interface IServiceModule
{
    /// <summary>Kebab-case service name, used in logs, metrics and health output.</summary>
    string Name { get; }

    void ConfigureServices(IServiceCollection services, IConfiguration configuration);

    void AddConsumers(IBusRegistrationConfigurator bus);
}

public static class ServiceModuleExtensions
{
    /// <summary>Options bound to a configuration section, validated by their data annotations when the host starts.</summary>
    public static IServiceCollection AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
    {
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateDataAnnotations().ValidateOnStart();
        return services;
    }
}
