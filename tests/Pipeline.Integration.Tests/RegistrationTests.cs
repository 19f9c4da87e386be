using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Deployment;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using RabbitMQ.Client;

namespace Pipeline.Integration.Tests;

/// <summary>
/// Registration as a role decision on the sender's own uploads and its refusals as
/// answers, with Deployment under its own broker user. mallory is an operator here,
/// alice an approver; guest sends without a user_id (anonymous).
/// </summary>
public class RegistrationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>Gate:Precision 0.1 needs 58 rows per holdout: 174 reference rows.</summary>
    private static readonly Dictionary<string, string?> Settings = new() { ["Roles:Operators:0"] = "mallory", ["Gate:Precision"] = "0.1" };

    private static BrokerSettings As(string user) => new(Broker.Host, Broker.Port, Broker.VirtualHost, user, user);

    private static string Queue(ServiceHosts hosts) => new KebabCaseEndpointNameFormatter(hosts.Prefix, includeNamespace: true).Consumer<RegisterModelConsumer>();

    /// <summary>What pipelinectl does: the model file and labelled reference rows uploaded under the user's name.</summary>
    private static async Task<RegisterModel> UploadAsync(ServiceHosts hosts, string user, string model, int rows, bool deploy)
    {
        var store = new FileSystemArtifactStore(hosts.ArtifactRoot);
        var upload = $"{user}/{model}/{Guid.NewGuid():N}";
        var file = Path.Combine(hosts.Directory, $"{Guid.NewGuid():N}.model");
        using (var bundle = ModelBundle.Create("mlp", seed: 3))
        {
            bundle.Save(file);
        }

        ArtifactRef modelRef;
        await using (var stream = File.OpenRead(file))
        {
            modelRef = await store.PutAsync(stream, "uploads", $"{upload}/base.model");
        }

        var data = await store.PutAsync(Synthetic.Rows(rows, seed: 5, shifted: false).ToBytes(), "uploads", $"{upload}/reference.pfb");
        return new RegisterModel
        {
            ModelId = model, Deploy = deploy, Reason = "registration test", IdempotencyKey = Guid.NewGuid().ToString("N"),
            ModelFile = new PayloadRef { Uri = modelRef.Uri, Sha256 = modelRef.Sha256, SizeBytes = modelRef.Size },
            ReferenceData = new PayloadRef { Uri = data.Uri, Sha256 = data.Sha256, SizeBytes = data.Size },
        };
    }

    private static async Task<string> RefusedAsync(string user, RegisterModel command)
    {
        var refused = await Assert.ThrowsAsync<OperatorException>(
            () => OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(As(user), command, "deployment", Wait, CancellationToken.None));
        Assert.Equal(OperatorException.Refused, refused.ExitCode);
        return refused.Message;
    }

    [Fact]
    public async Task Registering_needs_the_operator_role_deploying_the_approver_role_and_the_files_must_be_the_senders_own()
    {
        await using var hosts = new ServiceHosts("register-roles");
        var deployment = await hosts.StartAsync([new DeploymentModule()], Settings);
        var registry = deployment.Services.GetRequiredService<IModelRegistry>();

        // An operator registers; deploying needs an approver.
        var first = await OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(
            As("mallory"), await UploadAsync(hosts, "mallory", "roles-model", 300, deploy: false), "deployment", Wait, CancellationToken.None);
        Assert.Equal("mallory", first.RegisteredBy);
        Assert.Contains("does not have the approver role", await RefusedAsync("mallory", await UploadAsync(hosts, "mallory", "roles-model", 300, deploy: true)),
            StringComparison.Ordinal);
        Assert.Null(await registry.GetProductionAsync("roles-model"));

        // Knowing a registered version's artifact URI and SHA-256 is not an upload of one's own.
        var v1 = (await registry.GetVersionAsync("roles-model", 1))!;
        var reuse = await UploadAsync(hosts, "alice", "roles-model", 300, deploy: true) with
        {
            ModelFile = new PayloadRef { Uri = v1.ArtifactUri, Sha256 = v1.Sha256 },
        };
        Assert.Contains("is not an upload of alice", await RefusedAsync("alice", reuse), StringComparison.Ordinal);
        var mallorys = await UploadAsync(hosts, "mallory", "roles-model", 300, deploy: true);
        Assert.Contains("is not an upload of alice", await RefusedAsync("alice", mallorys), StringComparison.Ordinal);

        // Anonymous (no user_id, plain AMQP): refused into the error queue with the reason, nothing registered.
        var anonymous = await UploadAsync(hosts, "guest", "roles-model", 300, deploy: true);
        await using (var connection = await Broker.ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(anonymous, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web));
            await channel.BasicPublishAsync("Pipeline.Contracts:RegisterModel", "", false,
                new BasicProperties { ContentType = "application/json", DeliveryMode = DeliveryModes.Persistent }, body);
            var refused = await Broker.GetAsync(connection, Queue(hosts) + "_error", Wait);
            Assert.NotNull(refused);
            Assert.Contains("the sender is unknown", Encoding.UTF8.GetString((byte[])refused.BasicProperties.Headers!["MT-Fault-Message"]!), StringComparison.Ordinal);
        }

        // The approver registers and deploys; both are audited with the validated user.
        var deployed = await OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(
            As("alice"), await UploadAsync(hosts, "alice", "roles-model", 300, deploy: true), "deployment", Wait, CancellationToken.None);
        Assert.Equal(2, deployed.Version);
        Assert.Equal(new[] { 1, 2 }, (await registry.ListVersionsAsync("roles-model")).Select(v => v.Version).ToArray());
        Assert.Equal("alice", (await registry.GetVersionAsync("roles-model", 2))!.CreatedBy);
        Assert.Equal(2, (await registry.GetProductionAsync("roles-model"))!.Version);
        var audit = Assert.Single(await deployment.Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync("roles-model"));
        Assert.Equal("alice", audit.DeployedBy);
    }

    [Fact]
    public async Task A_retried_registration_registers_one_version_moves_the_alias_once_and_announces_again_after_a_failed_publish()
    {
        await using var hosts = new ServiceHosts("register-once");
        var events = new EventLogModule();
        var deployment = await hosts.StartAsync([new DeploymentModule()], Settings);
        var registry = deployment.Services.GetRequiredService<IModelRegistry>();
        var command = await UploadAsync(hosts, "alice", "once-model", 300, deploy: true);

        // The announcement cannot be published: ModelDeployed's exchange was deleted and declared again as direct
        // The alias moves, the publish fails, the retries must not register or deploy again.
        await using var connection = await Broker.ConnectAsync();
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeleteAsync("Pipeline.Contracts:ModelDeployed");
            await channel.ExchangeDeclareAsync("Pipeline.Contracts:ModelDeployed", ExchangeType.Direct, durable: true);
        }

        try
        {
            await Assert.ThrowsAsync<OperatorException>(
                () => OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(As("alice"), command, "deployment", Wait, CancellationToken.None));
        }
        finally
        {
            await using var channel = await connection.CreateChannelAsync();
            await channel.ExchangeDeleteAsync("Pipeline.Contracts:ModelDeployed");
            await channel.ExchangeDeclareAsync("Pipeline.Contracts:ModelDeployed", ExchangeType.Fanout, durable: true);
        }

        Assert.Equal(new[] { 1 }, (await registry.ListVersionsAsync("once-model")).Select(v => v.Version).ToArray());
        Assert.Equal(1, (await registry.GetProductionAsync("once-model"))!.Version);

        // pipelinectl's retry of the same invocation (same key) announces what was done, once more.
        await hosts.StartAsync([events]);
        var again = await OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(As("alice"), command, "deployment", Wait, CancellationToken.None);
        Assert.Equal(1, again.Version);
        var announced = await events.Log.WaitAsync<ModelDeployed>(d => d.ModelId == "once-model", Wait);
        Assert.Equal(1, announced.Version);
        Assert.Equal(new[] { 1 }, (await registry.ListVersionsAsync("once-model")).Select(v => v.Version).ToArray());
        Assert.Single(await deployment.Services.GetRequiredService<IDeploymentRepository>().ListByModelAsync("once-model"));
    }

    [Fact]
    public async Task Too_small_a_reference_is_refused_with_the_rows_needed_as_an_answer_without_an_error_queue_entry_and_its_uploads_deleted()
    {
        await using var hosts = new ServiceHosts("register-small");
        var deployment = await hosts.StartAsync([new DeploymentModule()], Settings);
        var registry = deployment.Services.GetRequiredService<IModelRegistry>();
        var store = new FileSystemArtifactStore(hosts.ArtifactRoot);

        var small = await UploadAsync(hosts, "alice", "small-model", 120, deploy: false);
        var reason = await RefusedAsync("alice", small);
        Assert.Contains("needs 58 rows each", reason, StringComparison.Ordinal);
        Assert.Contains("give at least 174 rows", reason, StringComparison.Ordinal);
        Assert.Contains("--allow-small-reference", reason, StringComparison.Ordinal);
        Assert.False(store.Exists(small.ModelFile.Uri));
        Assert.False(store.Exists(small.ReferenceData.Uri));
        Assert.Empty(await registry.ListVersionsAsync("small-model"));
        await using (var connection = await Broker.ConnectAsync())
        {
            Assert.Null(await Broker.GetAsync(connection, Queue(hosts) + "_error", TimeSpan.FromSeconds(2)));
        }

        // Allowed by the operator: registered, with the warning in the answer.
        var allowed = await UploadAsync(hosts, "alice", "small-model", 120, deploy: false) with { AllowSmallReference = true };
        var registered = await OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(As("alice"), allowed, "deployment", Wait, CancellationToken.None);
        Assert.Equal(1, registered.Version);
        Assert.Contains("needs 58 rows each", registered.Warning, StringComparison.Ordinal);
    }
}
