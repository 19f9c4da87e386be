using YamlDotNet.RepresentationModel;
using static Pipeline.Packaging.Tests.ComposeFile;

namespace Pipeline.Packaging.Tests;

/// <summary>docker compose cannot run here (no engine), so the file is checked by parsing it.</summary>
public class ComposeTests
{
    internal static readonly string[] PipelineServices =
        ["adaptation-runs", "drift-detection", "sensitivity-scoring", "sparse-tuning", "evaluation-gate", "deployment", "inference"];

    private static readonly string[] Infrastructure = ["rabbitmq", "sqlserver", "prometheus", "alertmanager", "grafana", "jaeger"];

    [Fact]
    public void Infrastructure_services_use_images_and_the_stateful_ones_have_health_checks()
    {
        foreach (var name in Infrastructure)
        {
            Assert.NotNull(Str(Service(name), "image"));
        }

        foreach (var name in new[] { "rabbitmq", "sqlserver", "prometheus", "alertmanager", "grafana" })
        {
            Assert.NotNull(Get(Service(name), "healthcheck"));
        }

        Assert.StartsWith("rabbitmq:", Str(Service("rabbitmq"), "image"));
        Assert.Contains("mssql", Str(Service("sqlserver"), "image"));
        Assert.StartsWith("prom/alertmanager:", Str(Service("alertmanager"), "image"));
        Assert.StartsWith("jaegertracing/all-in-one:", Str(Service("jaeger"), "image"));
    }

    [Fact]
    public void Every_pipeline_service_builds_its_own_project_and_waits_for_broker_and_database()
    {
        foreach (var name in PipelineServices)
        {
            var svc = Service(name);
            var build = Assert.IsType<YamlMappingNode>(Get(svc, "build"));
            var dockerfile = Str(build, "dockerfile")!;
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, dockerfile)), dockerfile);
            var project = Str((YamlMappingNode)Get(build, "args")!, "PROJECT")!;
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, project)), $"{name}: {project} does not exist");

            var deps = Assert.IsType<YamlMappingNode>(Get(svc, "depends_on"));
            Assert.Equal("service_healthy", Str((YamlMappingNode)Get(deps, "rabbitmq")!, "condition"));
            // The database exists before any service migrates it.
            Assert.Equal("service_completed_successfully", Str((YamlMappingNode)Get(deps, "sqlserver-init")!, "condition"));
            var init = Service("sqlserver-init");
            Assert.Equal("service_healthy", Str((YamlMappingNode)Get((YamlMappingNode)Get(init, "depends_on")!, "sqlserver")!, "condition"));

            var env = Environment(name);
            Assert.Equal("RabbitMq", env["Messaging__Transport"]);
            Assert.Equal("SqlServer", env["Storage__Provider"]);
            Assert.NotNull(Get(svc, "healthcheck"));
            Assert.NotNull(Get(svc, "volumes"));
        }
    }

    [Fact]
    public void Only_the_ports_a_user_needs_are_published_and_the_unauthenticated_uis_on_loopback_only()
    {
        var expected = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["inference"] = ["8080:8080"],                         // the API users call
            ["rabbitmq"] = ["5672:5672", "15672:15672"],           // ctl over AMQP, the management UI (both log in)
            ["grafana"] = ["3000:3000"],                           // dashboards (login)
            ["prometheus"] = ["127.0.0.1:9090:9090"],              // no login: this machine only
            ["alertmanager"] = ["127.0.0.1:9093:9093"],
            ["jaeger"] = ["127.0.0.1:16686:16686"],
        };

        foreach (var name in ServiceNames())
        {
            Assert.Equal(expected.GetValueOrDefault(name, []), Ports(name));
        }
    }

    [Fact]
    public void Prometheus_scrapes_every_service_and_the_brokers_queues_and_sends_alerts_to_alertmanager()
    {
        var prom = Yaml("infra/prometheus/prometheus.yml");
        var jobs = ((YamlSequenceNode)prom["scrape_configs"]).Cast<YamlMappingNode>()
            .ToDictionary(j => ((YamlScalarNode)j["job_name"]).Value!, StringComparer.Ordinal);
        var pipelineTargets = Targets(jobs["pipeline"]);
        foreach (var name in PipelineServices)
        {
            Assert.Contains($"{name}:8080", pipelineTargets);
        }

        // RabbitMQ's own exporter, per queue (error queues included), enabled in the broker's plugins.
        var queues = jobs["rabbitmq-queues"];
        Assert.Equal("/metrics/detailed", ((YamlScalarNode)queues["metrics_path"]).Value);
        Assert.Equal("queue_coarse_metrics", ((YamlScalarNode)((YamlSequenceNode)((YamlMappingNode)queues["params"])["family"])[0]).Value);
        Assert.Equal(["rabbitmq:15692"], Targets(queues));
        Assert.Contains("rabbitmq_prometheus", File.ReadAllText(Path.Combine(RepoPaths.Root, "infra/rabbitmq/enabled_plugins")), StringComparison.Ordinal);
        Assert.Contains(Volumes("rabbitmq"), v => v.StartsWith("./infra/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins", StringComparison.Ordinal));
        Assert.Contains("rabbitmq_prometheus", File.ReadAllText(Path.Combine(RepoPaths.Root, "infra/rabbitmq/bootstrap.sh")), StringComparison.Ordinal);

        var alertmanagers = (YamlSequenceNode)((YamlMappingNode)prom["alerting"])["alertmanagers"];
        Assert.Equal(["alertmanager:9093"], Targets((YamlMappingNode)alertmanagers[0]));

        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "infra/grafana/provisioning/datasources/prometheus.yml")));
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "infra/rabbitmq/definitions.json")));
    }

    internal static YamlMappingNode Yaml(string relative)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(RepoPaths.Root, relative));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    internal static List<string> Volumes(string service) =>
        Get(Service(service), "volumes") is YamlSequenceNode v ? v.Children.Select(c => ((YamlScalarNode)c).Value!).ToList() : [];

    private static List<string> Targets(YamlMappingNode job) =>
        ((YamlSequenceNode)job["static_configs"]).Cast<YamlMappingNode>()
            .SelectMany(c => ((YamlSequenceNode)c["targets"]).Select(t => ((YamlScalarNode)t).Value!))
            .ToList();
}
