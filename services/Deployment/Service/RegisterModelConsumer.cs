using MassTransit;
using Microsoft.Extensions.Logging;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>RegisterModel → next version stored → ModelVersionRegistered (and, with Deploy, promoted → ModelDeployed).</summary>
public sealed class RegisterModelConsumer(
    ModelRegistration registration, ModelPromoter promoter, ILogger<RegisterModelConsumer> logger)
    : IConsumer<RegisterModel>
{
    public async Task Consume(ConsumeContext<RegisterModel> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var by = OperatorIdentity.Of(context) ?? "unknown";
        var record = await registration.RegisterAsync(m, by, ct);
        var registered = new ModelVersionRegistered
        {
            ModelId = m.ModelId, Version = record.Version, ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256,
            Architecture = record.Architecture, InputShape = record.InputShape, Classes = record.Classes,
            ReferenceData = Pipeline.Adaptation.VersionMetadata.Parse(record.MetadataJson).DriftReference, RegisteredBy = by,
        };
        await context.Publish(registered, ct);
        logger.LogInformation("Registered {ModelId} v{Version} ({Architecture}, input [{Shape}]) for {By}",
            m.ModelId, record.Version, record.Architecture, string.Join(", ", record.InputShape), by);

        if (m.Deploy)
        {
            ModelPromoter.Promotion promotion;
            try
            {
                promotion = await promoter.PromoteAsync(m.ModelId, record.Version, DeploymentKind.Deploy, by, m.Reason, null, ct);
            }
            catch (CannotPromoteException ex)
            {
                throw new CommandRejectedException($"registered v{record.Version} but could not deploy it: {ex.Message}");
            }

            await context.Publish(new ModelDeployed
            {
                ModelId = m.ModelId, Version = record.Version, PreviousVersion = promotion.PreviousVersion,
                ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, By = by, Reason = m.Reason,
            }, ct);
            logger.LogInformation("Deployed {ModelId} v{Version} on registration (was v{Previous})", m.ModelId, record.Version, promotion.PreviousVersion);
        }

        if (context.ResponseAddress is not null)
        {
            await context.RespondAsync(registered);
        }
    }
}

/// <summary>ListModels → the registry's models and versions → ModelCatalog (reply).</summary>
public sealed class ListModelsConsumer(IModelRegistry registry) : IConsumer<ListModels>
{
    public async Task Consume(ConsumeContext<ListModels> context)
    {
        var ct = context.CancellationToken;
        var ids = context.Message.ModelId is { } one
            ? [one]
            : (await registry.ListModelsAsync(ct)).Select(x => x.ModelId).ToList();
        var models = new List<CatalogModel>();
        foreach (var id in ids)
        {
            var versions = await registry.ListVersionsAsync(id, ct);
            if (versions.Count == 0 && context.Message.ModelId is not null)
            {
                await OperatorCommand.RefuseQueryAsync(context, $"model {id} is not registered");
                return;
            }

            models.Add(new CatalogModel
            {
                ModelId = id,
                ProductionVersion = (await registry.GetProductionAsync(id, ct))?.Version,
                LatestVersion = versions.Count == 0 ? null : versions.Max(v => v.Version),
                Versions = versions.Select(v => new CatalogVersion
                {
                    Version = v.Version, Architecture = v.Architecture, InputShape = v.InputShape, Classes = v.Classes,
                    ParamsTotal = v.ParamsTotal, Sha256 = v.Sha256, ArtifactUri = v.ArtifactUri, CreatedBy = v.CreatedBy,
                    CreatedAt = v.CreatedAt, Metadata = v.MetadataJson,
                }).ToList(),
            });
        }

        await context.RespondAsync(new ModelCatalog { Models = models });
    }
}
