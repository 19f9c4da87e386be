using MassTransit;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Packaging.Tests;

/// <summary>
/// No cluster here, so the kustomize manifests (infra/k8s) are checked by parsing them the way
/// kustomize would read them: every referenced file exists, every service is deployed safely, the
/// tuner scales on its real queue and the GPU overlay puts it on GPU nodes.
/// </summary>
public class KubernetesTests
{
    private static readonly string[] PipelineServices =
        ["drift-detection", "sensitivity-scoring", "sparse-tuning", "evaluation-gate", "deployment", "inference"];

    private static string K8s(string relative) => Path.Combine(RepoPaths.Root, "infra", "k8s", relative);

    private static YamlMappingNode Load(string path)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(path);
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    /// <summary>Every document of every resource file the base kustomization lists.</summary>
    private static List<YamlMappingNode> BaseResources()
    {
        var docs = new List<YamlMappingNode>();
        foreach (var file in Seq(Load(K8s("base/kustomization.yaml")), "resources").Select(Str))
        {
            var path = Path.GetFullPath(Path.Combine(K8s("base"), file));
            if (Directory.Exists(path))
            {
                continue; // a kustomization of its own (the ConfigMap generators), checked separately
            }

            var yaml = new YamlStream();
            using var reader = new StreamReader(path);
            yaml.Load(reader);
            docs.AddRange(yaml.Documents.Select(d => (YamlMappingNode)d.RootNode));
        }

        return docs;
    }

    private static YamlNode? Get(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    private static IEnumerable<YamlNode> Seq(YamlNode node, params string[] path) =>
        Get(node, path) is YamlSequenceNode s ? s.Children : [];

    private static string Str(YamlNode node) => ((YamlScalarNode)node).Value!;

    private static string? Str(YamlNode node, params string[] path) => Get(node, path) is YamlScalarNode s ? s.Value : null;

    private static YamlMappingNode Find(List<YamlMappingNode> docs, string kind, string name) =>
        docs.Single(d => Str(d, "kind") == kind && Str(d, "metadata", "name") == name);

    [Fact]
    public void Every_file_a_kustomization_references_exists()
    {
        var kustomizations = Directory.GetFiles(Path.Combine(RepoPaths.Root, "infra"), "kustomization.yaml", SearchOption.AllDirectories);
        Assert.Contains(kustomizations, k => k.EndsWith(Path.Combine("k8s", "base", "kustomization.yaml"), StringComparison.Ordinal));
        foreach (var k in kustomizations)
        {
            var root = Load(k);
            var dir = Path.GetDirectoryName(k)!;
            foreach (var r in Seq(root, "resources").Select(Str))
            {
                var path = Path.GetFullPath(Path.Combine(dir, r));
                Assert.True(File.Exists(path) || File.Exists(Path.Combine(path, "kustomization.yaml")), $"{k}: {r} does not exist");
            }

            foreach (var generator in Seq(root, "configMapGenerator"))
            {
                foreach (var f in Seq(generator, "files").Select(Str))
                {
                    Assert.True(File.Exists(Path.Combine(dir, f)), $"{k}: generator file {f} does not exist");
                }
            }

            foreach (var patch in Seq(root, "patches"))
            {
                Assert.True(File.Exists(Path.Combine(dir, Str(patch, "path")!)), $"{k}: patch {Str(patch, "path")} does not exist");
            }
        }
    }

    [Fact]
    public void Every_pipeline_service_is_deployed_non_root_with_probes_pinned_image_and_no_literal_secret()
    {
        var docs = BaseResources();
        var pinned = Seq(Load(K8s("base/kustomization.yaml")), "images").ToDictionary(i => Str(i, "name")!, i => Str(i, "newTag")!);
        foreach (var name in PipelineServices)
        {
            Find(docs, "Service", name);
            var deployment = Find(docs, "Deployment", name);
            var pod = Get(deployment, "spec", "template", "spec")!;
            Assert.Equal("true", Str(pod, "securityContext", "runAsNonRoot"));
            var container = (YamlMappingNode)Seq(pod, "containers").Single();
            var image = Str(container, "image")!;
            Assert.Equal($"pipeline/{name}", image);
            Assert.True(pinned.TryGetValue(image, out var tag) && tag != "latest", $"{name}: image tag not pinned");
            Assert.Equal("/health/live", Str(container, "livenessProbe", "httpGet", "path"));
            Assert.Equal("/health/ready", Str(container, "readinessProbe", "httpGet", "path"));
            Assert.Equal("false", Str(container, "securityContext", "allowPrivilegeEscalation"));
            Assert.Contains(Seq(container, "volumeMounts"), m => Str(m, "mountPath") == "/data/artifacts");
            Assert.Contains(Seq(container, "envFrom"), e => Str(e, "configMapRef", "name") == "pipeline-config");
            Assert.Equal(name, Str(Seq(container, "env").Single(e => Str(e, "name") == "Messaging__Username"), "value"));
        }
    }

    [Fact]
    public void Every_image_is_pinned_every_pod_runs_as_non_root_and_secrets_come_from_secrets()
    {
        foreach (var doc in BaseResources())
        {
            var pod = Str(doc, "kind") switch
            {
                "Deployment" or "StatefulSet" => Get(doc, "spec", "template", "spec"),
                "Job" => Get(doc, "spec", "template", "spec"),
                _ => null,
            };
            if (pod is null)
            {
                continue;
            }

            var name = Str(doc, "metadata", "name");
            Assert.True(Str(pod, "securityContext", "runAsNonRoot") == "true", $"{name} may run as root");
            foreach (var container in Seq(pod, "containers"))
            {
                var image = Str(container, "image")!;
                Assert.True(image.StartsWith("pipeline/", StringComparison.Ordinal) || (image.Contains(':') && !image.EndsWith(":latest", StringComparison.Ordinal)),
                    $"{name}: image {image} is not pinned");
                foreach (var env in Seq(container, "env"))
                {
                    var key = Str(env, "name")!;
                    if (key.Contains("PASSWORD", StringComparison.OrdinalIgnoreCase) || key.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase)
                        || key.Contains("ApiKey", StringComparison.OrdinalIgnoreCase))
                    {
                        Assert.True(Get(env, "value") is null && Get(env, "valueFrom", "secretKeyRef") is not null, $"{name}: {key} must come from a Secret");
                    }
                }
            }
        }

        var grafana = Seq(Get(Find(BaseResources(), "Deployment", "grafana"), "spec", "template", "spec")!, "containers").Single();
        Assert.Equal("false", Str(Seq(grafana, "env").Single(e => Str(e, "name") == "GF_AUTH_ANONYMOUS_ENABLED"), "value"));
    }

    [Fact]
    public void Alertmanager_routes_with_compose_s_config_and_reads_the_webhook_url_from_the_secret()
    {
        var docs = BaseResources();
        var pod = Get(Find(docs, "Deployment", "alertmanager"), "spec", "template", "spec")!;
        Assert.Equal("true", Str(pod, "securityContext", "runAsNonRoot"));
        var container = Seq(pod, "containers").Single();
        var secret = Seq(pod, "volumes").Single(v => Get(v, "secret") is not null);
        Assert.Equal("pipeline-secrets", Str(secret, "secret", "secretName"));
        var item = Seq(secret, "secret", "items").Single();
        Assert.Equal("ALERTMANAGER_WEBHOOK_URL", Str(item, "key"));
        var mount = Seq(container, "volumeMounts").Single(m => Str(m, "name") == Str(secret, "name"));

        // The file the receiver reads (url_file) is where the Secret's key is mounted.
        var config = Load(Path.Combine(RepoPaths.Root, "infra", "alertmanager", "alertmanager.yml"));
        var urlFile = Str(Seq(Seq(config, "receivers").Single(), "webhook_configs").Single(), "url_file");
        Assert.Equal(urlFile, Str(mount, "mountPath"));
        Assert.Equal(Str(item, "path"), Str(mount, "subPath"));

        var generator = Seq(Load(Path.Combine(RepoPaths.Root, "infra", "alertmanager", "kustomization.yaml")), "configMapGenerator").Single();
        var configVolume = Seq(pod, "volumes").Single(v => Str(v, "configMap", "name") == Str(generator, "name"));
        Assert.Equal("/etc/alertmanager", Str(Seq(container, "volumeMounts").Single(m => Str(m, "name") == Str(configVolume, "name")), "mountPath"));
        Assert.Contains("--config.file=/etc/alertmanager/alertmanager.yml", Seq(container, "args").Select(Str));
        Assert.Contains(Seq(Find(docs, "Service", "alertmanager"), "spec", "ports"), p => Str(p, "port") == "9093");
    }

    [Fact]
    public void The_tuner_scales_on_the_depth_of_the_queue_it_really_consumes()
    {
        var docs = BaseResources();
        var scaled = Find(docs, "ScaledObject", "sparse-tuning");
        Assert.Equal("sparse-tuning", Str(scaled, "spec", "scaleTargetRef", "name"));
        var trigger = Seq(scaled, "spec", "triggers").Single();
        Assert.Equal("rabbitmq", Str(trigger, "type"));
        Find(docs, "TriggerAuthentication", Str(trigger, "authenticationRef", "name")!);

        // The queue MassTransit names for the tuner's work consumer, with the hosts' formatter.
        var formatter = new KebabCaseEndpointNameFormatter(null, includeNamespace: true);
        var consumer = typeof(SparseTuning.SparseTuningModule).Assembly.GetTypes()
            .Single(t => t is { IsClass: true, IsAbstract: false } && t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IConsumer<>)));
        var queue = (string)typeof(KebabCaseEndpointNameFormatter).GetMethod(nameof(KebabCaseEndpointNameFormatter.Consumer))!
            .MakeGenericMethod(consumer).Invoke(formatter, null)!;
        Assert.Equal(queue, Str(trigger, "metadata", "queueName"));
    }

    [Fact]
    public void The_gpu_overlay_puts_tuners_on_gpu_nodes_with_one_gpu_each()
    {
        var overlay = Load(K8s("overlays/gpu/kustomization.yaml"));
        Assert.Contains(Seq(overlay, "resources"), r => Str(r) == "../../base");
        Assert.EndsWith("cuda", Seq(overlay, "images").Single(i => Str(i, "name") == "pipeline/sparse-tuning") is { } img ? Str(img, "newTag")! : "", StringComparison.Ordinal);
        var patch = Load(K8s("overlays/gpu/" + Str(Seq(overlay, "patches").Single(), "path")));
        Assert.Equal("sparse-tuning", Str(patch, "metadata", "name"));
        var pod = Get(patch, "spec", "template", "spec")!;
        Assert.Equal("true", Str(pod, "nodeSelector", "nvidia.com/gpu.present"));
        Assert.Contains(Seq(pod, "tolerations"), t => Str(t, "key") == "nvidia.com/gpu");
        var container = Seq(pod, "containers").Single();
        Assert.Equal("1", Str(container, "resources", "limits", "nvidia.com/gpu"));
        Assert.Equal("cuda", Str(Seq(container, "env").Single(e => Str(e, "name") == "Tuning__Device"), "value"));
    }
}

public class ImageTests
{
    [Fact]
    public void Service_images_run_as_an_unprivileged_user_and_the_build_context_leaves_out_state_and_secrets()
    {
        var dockerfile = File.ReadAllLines(Path.Combine(RepoPaths.Root, "infra/docker/Dockerfile"));
        var runtime = dockerfile.SkipWhile(l => !l.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(runtime);
        var user = runtime.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain("root", user, StringComparison.Ordinal);
        Assert.True(runtime.IndexOf(user) < runtime.FindIndex(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));

        var ignored = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".dockerignore"));
        foreach (var pattern in new[] { "**/bin/", "**/obj/", ".pipeline/", ".env" })
        {
            Assert.Contains(pattern, ignored);
        }
    }
}
