using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Benchmarks;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Training;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using Spectre.Console;

namespace Pipeline.Standalone.Demo;

/// <summary>The demos' base model: trained (or loaded from the cache) and registered over the bus as any user would.</summary>
internal sealed class DemoBaseModel(IAnsiConsole console, Action<string> say)
{
    /// <summary>The recipe of the base model (and of the continual demo's retrain reference).</summary>
    public static BaseTrainingOptions Recipe(int seed) => new() { Architecture = "cnn-small", Epochs = 2, TrainSize = 20000, Seed = seed };

    public ModelBundle Train(FashionMnistSplits splits, int seed, CancellationToken ct)
    {
        var options = Recipe(seed);
        ModelBundle? model = null;
        var cached = false;
        console.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("base model (cnn-small, 2 epochs)");
                var progress = new SyncProgress<TrainingProgress>(p =>
                {
                    task.MaxValue = p.TotalSteps;
                    task.Value = p.Step;
                    task.Description = $"base model: epoch {p.Epoch}, loss {p.Loss:F3}";
                });
                (model, cached) = BaseTrainer.TrainOrLoad(splits.Train, options, null, progress, ct);
                task.Value = task.MaxValue;
            });
        say(cached ? "base model loaded from cache" : "base model trained");
        return model!;
    }

    /// <summary>
    /// Registers the base model as any user would (ctl models register): the model file and its reference data go to
    /// the shared artifact store, then RegisterModel with Deploy over the bus, answered by the registry's owner.
    /// </summary>
    public async Task<ModelVersionRecord> RegisterAsync(
        IServiceProvider services, ModelBundle model, FashionMnistSplits splits, string modelId, int seed, CancellationToken ct)
    {
        var datasets = services.GetRequiredService<DatasetArtifacts>();
        var artifacts = services.GetRequiredService<IArtifactStore>();
        var registry = services.GetRequiredService<IModelRegistry>();
        var bus = services.GetRequiredService<IBus>();
        // Registration is an approver's decision (with Deploy) on the sender's own uploads: on RabbitMQ the demo's
        // client is its broker user (which the distributed demo makes an approver), in one process the configured approver.
        var messaging = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MessagingOptions>>().Value;
        var user = messaging.Transport == TransportKind.RabbitMq
            ? messaging.Username
            : services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RoleOptions>>().Value.Approvers.FirstOrDefault() ?? "operator";

        using var reference = splits.Validation.Take(3000);
        using var replaySample = splits.Train.Shuffle(seed).Take(2000);
        var replay = await datasets.SaveAsync(DatasetArtifacts.FromDataset(replaySample), "uploads", $"{user}/{modelId}/replay.pfb", ct);
        var holdout = await datasets.SaveAsync(DatasetArtifacts.FromDataset(splits.ReferenceHoldout), "uploads", $"{user}/{modelId}/reference-holdout.pfb", ct);
        var driftReference = await datasets.SaveAsync(DatasetArtifacts.FromDataset(reference), "uploads", $"{user}/{modelId}/drift-reference.pfb", ct);
        var uploaded = await artifacts.PutWrittenAsync(model.Save, "uploads", $"{user}/{modelId}/base.model", ct);

        var client = bus.CreateRequestClient<RegisterModel>(RequestTimeout.After(s: 120));
        var response = await client.GetResponse<ModelVersionRegistered>(new RegisterModel
        {
            ModelId = modelId,
            ModelFile = uploaded.ToPayload(),
            ReferenceData = driftReference, GateHoldout = holdout, ReplaySet = replay,
            Deploy = true, Reason = "initial model",
            IdempotencyKey = Guid.NewGuid().ToString("N"),
        }, x => x.UseExecute(c =>
        {
            c.Headers.Set(OperatorIdentity.InMemoryHeader, user);
            if (c.TryGetPayload<RabbitMqSendContext>(out var amqp))
            {
                amqp.BasicProperties.UserId = user;
            }
        }), ct);
        var record = await registry.GetVersionAsync(modelId, response.Message.Version, ct)
            ?? throw new InvalidOperationException($"{modelId} v{response.Message.Version} was announced but is not in the registry");
        say($"registered {modelId} v{record.Version} ({record.ParamsTotal:N0} parameters) over the bus and put it in production");
        return record;
    }
}
