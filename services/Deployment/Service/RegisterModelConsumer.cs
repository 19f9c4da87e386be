using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Deployment;

/// <summary>
/// RegisterModel → next version stored → ModelVersionRegistered (and, with Deploy, promoted → ModelDeployed).
/// A role decision: registering needs the operator role, Deploy the approver role, both for the user the broker
/// validated (anonymous messages are refused). The files must be the sender's own uploads. Idempotent per key:
/// a redelivery or retry finds the version the first delivery stored and moves the alias at most once; it only
/// announces again. A refusal is answered (CommandRefused) with one warn line and the sender's uploads deleted;
/// a refused plain-AMQP message (no one to answer) goes to the error queue with the reason.
/// </summary>
public sealed class RegisterModelConsumer(
    ModelRegistration registration, ModelPromoter promoter, IDeploymentRepository deployments, IArtifactStore artifacts,
    IOptions<RoleOptions> roles, ILogger<RegisterModelConsumer> logger)
    : IConsumer<RegisterModel>
{
    /// <summary>One registration at a time in this process: a key is looked up and stored without a race.</summary>
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public async Task Consume(ConsumeContext<RegisterModel> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        string user;
        try
        {
            user = OperatorRoles.Require(context, roles.Value, m.Deploy ? OperatorRole.Approver : OperatorRole.Operator, logger);
        }
        catch (CommandRejectedException ex)
        {
            // The role check logged the refusal; the uploads stay (they may be another user's).
            await RefuseAsync(context, null, ex.Message, log: false);
            return;
        }

        try
        {
            RegistrationUploads.CheckOwned(m, user);
        }
        catch (CommandRejectedException ex)
        {
            await RefuseAsync(context, user, ex.Message);
            return;
        }

        var key = m.IdempotencyKey ?? context.MessageId?.ToString();
        await OneAtATime.WaitAsync(ct);
        try
        {
            await RegisterAsync(context, user, key);
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    private async Task RegisterAsync(ConsumeContext<RegisterModel> context, string user, string? key)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var record = key is null ? null : await registration.FindAsync(m.ModelId, key, ct);
        string? warning = null;
        if (record is not null)
        {
            logger.LogInformation("RegisterModel {Key} of {ModelId} again (redelivered or retried): v{Version} is registered; announcing it again",
                key, m.ModelId, record.Version);
        }
        else
        {
            try
            {
                (record, warning) = await registration.RegisterAsync(m, user, key, ct);
            }
            catch (CommandRejectedException ex)
            {
                await RefuseAsync(context, user, ex.Message);
                return;
            }

            if (warning is not null)
            {
                logger.LogWarning("Registered {ModelId} v{Version} for {User} with a warning: {Warning}", m.ModelId, record.Version, user, warning);
            }
        }

        var registered = new ModelVersionRegistered
        {
            ModelId = m.ModelId, Version = record.Version, ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256,
            Architecture = record.Architecture, InputShape = record.InputShape, Classes = record.Classes,
            ReferenceData = Pipeline.Artifacts.VersionMetadata.Parse(record.MetadataJson).DriftReference, RegisteredBy = record.CreatedBy,
            Warning = warning,
        };
        await context.Publish(registered, ct);
        logger.LogInformation("Registered {ModelId} v{Version} ({Architecture}, input [{Shape}]) for {By}",
            m.ModelId, record.Version, record.Architecture, string.Join(", ", record.InputShape), user);

        if (m.Deploy)
        {
            // The alias moves once per registered version: a retry after a failed announcement only announces.
            var done = (await deployments.ListByModelAsync(m.ModelId, 100, ct))
                .FirstOrDefault(d => d.Version == record.Version && d.Kind == DeploymentKind.Deploy && d.RunId is null);
            int? previous;
            if (done is not null)
            {
                previous = done.PreviousVersion;
            }
            else
            {
                try
                {
                    previous = (await promoter.PromoteAsync(m.ModelId, record.Version, DeploymentKind.Deploy, user, m.Reason, null, ct)).PreviousVersion;
                }
                catch (CannotPromoteException ex)
                {
                    await RefuseAsync(context, user, $"registered v{record.Version} but could not deploy it: {ex.Message}", deleteUploads: false);
                    return;
                }
            }

            await context.Publish(new ModelDeployed
            {
                ModelId = m.ModelId, Version = record.Version, PreviousVersion = previous,
                ArtifactUri = record.ArtifactUri, Sha256 = record.Sha256, By = user, Reason = m.Reason,
            }, ct);
            logger.LogInformation("Deployed {ModelId} v{Version} on registration (was v{Previous})", m.ModelId, record.Version, previous);
        }

        if (context.ResponseAddress is not null)
        {
            await context.RespondAsync(registered);
        }
    }

    /// <summary>One warn line; the answer to a requester, or the error queue with the reason for a plain message.</summary>
    private async Task RefuseAsync(ConsumeContext<RegisterModel> context, string? user, string reason, bool log = true, bool deleteUploads = true)
    {
        if (log)
        {
            logger.LogWarning("Refused RegisterModel {MessageId} of {ModelId} from {User}: {Reason}", context.MessageId, context.Message.ModelId, user, reason);
        }

        if (deleteUploads && user is not null)
        {
            RegistrationUploads.Delete(artifacts, context.Message, user);
        }

        if (!OperatorCommand.IsRequest(context))
        {
            throw new CommandRejectedException(reason);
        }

        await context.RespondAsync(new CommandRefused { Command = nameof(RegisterModel), Reason = reason, By = user ?? OperatorIdentity.Of(context) });
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
