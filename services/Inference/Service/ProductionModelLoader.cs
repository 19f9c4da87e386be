using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pipeline.Inference;

/// <summary>
/// Loads the production version of every registered model when the host starts (before the bus, so no deploy event races the
/// first load) and then, every <see cref="InferenceOptions.RefreshInterval"/>, reconciles with the
/// registry's production alias in case this replica missed a deploy or rollback event (its queue is
/// temporary, so events published while it was disconnected are gone). A failed load never stops
/// the host: /predict answers 503 until a model is loaded.
/// </summary>
public sealed class ProductionModelLoader(
    ServedModels models, IOptions<InferenceOptions> options, TimeProvider time, ILogger<ProductionModelLoader> logger)
    : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        InferenceMetrics.ModelVersion.WithLabels(models.Default.ModelId).Set(0);
        if (options.Value.TorchThreads > 0)
        {
            // Process-wide: in the Standalone host the other modules share it.
            TorchSharp.torch.set_num_threads(options.Value.TorchThreads);
            logger.LogInformation("libtorch intra-op threads: {Threads}", options.Value.TorchThreads);
        }

        await TryLoadAsync(SwapTrigger.Startup, cancellationToken);
        models.MarkStartupLoaded();
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RefreshInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await TryLoadAsync(SwapTrigger.Refresh, stoppingToken);
        }
    }

    private async Task TryLoadAsync(SwapTrigger trigger, CancellationToken ct)
    {
        try
        {
            await models.LoadAllAsync(trigger, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // Database unreachable and the like: keep running; the next refresh or deploy event retries.
            logger.LogError(ex, "Could not load the production versions of the registry's models ({Trigger})", trigger);
            foreach (var model in models.All.Where(m => m.Current is null))
            {
                model.NoteUnavailable($"the model registry could not be read ({ex.GetType().Name}: {ex.Message.TrimEnd('.')}).");
            }
        }
    }
}
