using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Pipeline.Storage.Migrations;

/// <summary>
/// Applies migrations when the host starts (if <see cref="StorageOptions.MigrateOnStartup"/>).
/// It runs in <see cref="IHostedLifecycleService.StartingAsync"/>, i.e. before any hosted
/// service's StartAsync (the message bus included), so consumers never see an old schema.
/// </summary>
public sealed class StorageMigrationHostedService : IHostedLifecycleService
{
    private readonly MigrationRunner _runner;
    private readonly IOptions<StorageOptions> _options;

    /// <summary>Creates the service.</summary>
    public StorageMigrationHostedService(MigrationRunner runner, IOptions<StorageOptions> options)
    {
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <inheritdoc />
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (_options.Value.MigrateOnStartup)
        {
            await _runner.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
