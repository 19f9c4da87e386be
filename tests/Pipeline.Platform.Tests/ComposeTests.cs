using YamlDotNet.RepresentationModel;

namespace Pipeline.Platform.Tests;

/// <summary>docker compose cannot run here (no engine), so the file is checked by parsing it.</summary>
public class ComposeTests
{
    private static readonly string[] PipelineServices =
        ["adaptation-runs", "drift-detection", "sensitivity-scoring", "sparse-tuning", "evaluation-gate", "deployment", "inference"];

    private static readonly string[] Infrastructure = ["rabbitmq", "sqlserver", "prometheus", "grafana"];

    private static YamlMappingNode LoadServices()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(RepoPaths.Root, "docker-compose.yml"));
        yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return (YamlMappingNode)root.Children[new YamlScalarNode("services")];
    }

    /// <summary>A key of a mapping, following YAML merge keys (<c>&lt;&lt;: *anchor</c>) the way compose does.</summary>
    private static YamlNode? Get(YamlMappingNode node, string key)
    {
        if (node.Children.TryGetValue(new YamlScalarNode(key), out var v))
        {
            return v;
        }

        return node.Children.TryGetValue(new YamlScalarNode("<<"), out var merged) && merged is YamlMappingNode parent
            ? Get(parent, key)
            : null;
    }

    [Fact]
    public void Infrastructure_services_use_images_and_publish_ports_with_health_checks()
    {
        var services = LoadServices();
        foreach (var name in Infrastructure)
        {
            var svc = Assert.IsType<YamlMappingNode>(Get(services, name));
            Assert.NotNull(Get(svc, "image"));
            Assert.NotEmpty(Assert.IsType<YamlSequenceNode>(Get(svc, "ports")).Children);
            Assert.NotNull(Get(svc, "healthcheck"));
        }

        Assert.StartsWith("rabbitmq:", ((YamlScalarNode)Get((YamlMappingNode)Get(services, "rabbitmq")!, "image")!).Value);
        Assert.Contains("mssql", ((YamlScalarNode)Get((YamlMappingNode)Get(services, "sqlserver")!, "image")!).Value);
    }

    [Fact]
    public void Every_pipeline_service_builds_its_own_project_and_waits_for_broker_and_database()
    {
        var services = LoadServices();
        foreach (var name in PipelineServices)
        {
            var svc = Assert.IsType<YamlMappingNode>(Get(services, name));
            var build = Assert.IsType<YamlMappingNode>(Get(svc, "build"));
            var dockerfile = ((YamlScalarNode)Get(build, "dockerfile")!).Value!;
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, dockerfile)), dockerfile);
            var project = ((YamlScalarNode)Get((YamlMappingNode)Get(build, "args")!, "PROJECT")!).Value!;
            Assert.True(File.Exists(Path.Combine(RepoPaths.Root, project)), $"{name}: {project} does not exist");

            var ports = Assert.IsType<YamlSequenceNode>(Get(svc, "ports"));
            Assert.Contains(ports.Children, p => ((YamlScalarNode)p).Value!.EndsWith(":8080", StringComparison.Ordinal));

            var deps = Assert.IsType<YamlMappingNode>(Get(svc, "depends_on"));
            Assert.Equal("service_healthy", ((YamlScalarNode)Get((YamlMappingNode)Get(deps, "rabbitmq")!, "condition")!).Value);
            // The database exists before any service migrates it.
            Assert.Equal("service_completed_successfully", ((YamlScalarNode)Get((YamlMappingNode)Get(deps, "sqlserver-init")!, "condition")!).Value);
            var init = (YamlMappingNode)Get(services, "sqlserver-init")!;
            Assert.Equal("service_healthy", ((YamlScalarNode)Get((YamlMappingNode)Get((YamlMappingNode)Get(init, "depends_on")!, "sqlserver")!, "condition")!).Value);

            var env = Assert.IsType<YamlMappingNode>(Get(svc, "environment"));
            Assert.Equal("RabbitMq", ((YamlScalarNode)Get(env, "Messaging__Transport")!).Value);
            Assert.Equal("SqlServer", ((YamlScalarNode)Get(env, "Storage__Provider")!).Value);
            Assert.NotNull(Get(svc, "healthcheck"));
            Assert.NotNull(Get(svc, "volumes"));
        }
    }

    [Fact]
    public void Prometheus_scrapes_every_pipeline_service_and_grafana_is_provisioned()
    {
        var prom = File.ReadAllText(Path.Combine(RepoPaths.Root, "infra/prometheus/prometheus.yml"));
        foreach (var name in PipelineServices)
        {
            Assert.Contains($"{name}:8080", prom, StringComparison.Ordinal);
        }

        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "infra/grafana/provisioning/datasources/prometheus.yml")));
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, "infra/rabbitmq/definitions.json")));
    }
}
