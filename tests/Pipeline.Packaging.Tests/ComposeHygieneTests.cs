using System.Text.RegularExpressions;
using Pipeline.Hosting;
using YamlDotNet.RepresentationModel;
using static Pipeline.Packaging.Tests.ComposeFile;

namespace Pipeline.Packaging.Tests;

/// <summary>Deployment hygiene of docker-compose.yml: secrets, image tags, Grafana, logs, traces, Alertmanager.</summary>
public partial class ComposeHygieneTests
{
    [Fact]
    public void Every_secret_comes_from_the_environment_and_compose_refuses_to_start_without_it()
    {
        var references = VariableReferences();
        var secrets = references.Where(r => SecretName().IsMatch(r.Name)).ToList();
        Assert.Contains(secrets, s => s.Name == "SQLSERVER_SA_PASSWORD");
        Assert.Contains(secrets, s => s.Name == "GRAFANA_ADMIN_PASSWORD");
        Assert.Contains(secrets, s => s.Name == "ALERTMANAGER_WEBHOOK_URL");
        foreach (var (name, modifier) in secrets)
        {
            Assert.True(modifier.StartsWith(":?", StringComparison.Ordinal), $"${{{name}{modifier}}}: a secret must be required (:?message)");
        }

        // No literal secret in the file: every password-like setting is an environment reference.
        foreach (var service in ServiceNames())
        {
            foreach (var (key, value) in Environment(service).Where(e => SecretName().IsMatch(e.Key.ToUpperInvariant())))
            {
                Assert.Matches(@"^\$\{[A-Z0-9_]+:\?[^}]+\}$", value);
            }

            foreach (var (key, value) in Environment(service).Where(e => e.Value.Contains("Password=", StringComparison.OrdinalIgnoreCase)))
            {
                Assert.Matches(@"Password=\$\{[A-Z0-9_]+:\?[^}]+\};", value);
            }
        }

        // .env.example names every required variable with an empty secret; .env itself is never committed or built in.
        var example = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".env.example"))
            .Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
        foreach (var (name, _) in references.Where(r => r.Modifier.StartsWith(":?", StringComparison.Ordinal)).Distinct())
        {
            Assert.True(example.ContainsKey(name), $".env.example lacks {name}");
        }

        Assert.All(example.Where(e => SecretName().IsMatch(e.Key)), e => Assert.Equal("", e.Value));
        Assert.Contains("/.env", File.ReadAllLines(Path.Combine(RepoPaths.Root, ".gitignore")));
        Assert.False(File.Exists(Path.Combine(RepoPaths.Root, ".env")) && IsTracked(".env"), ".env is committed");
    }

    [Fact]
    public void Every_image_tag_is_pinned_to_a_version()
    {
        var images = ServiceNames().Select(n => Str(Service(n), "image")).OfType<string>().ToList();
        images.AddRange(File.ReadAllLines(Path.Combine(RepoPaths.Root, "infra/docker/Dockerfile"))
            .Where(l => l.StartsWith("FROM ", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
        Assert.True(images.Count >= 8, string.Join(", ", images));
        foreach (var image in images)
        {
            var tag = image.Contains('@', StringComparison.Ordinal) ? "digest" : image[(image.LastIndexOf(':') + 1)..];
            Assert.False(image.LastIndexOf(':') < 0 || tag.Contains("latest", StringComparison.Ordinal), $"{image} is not pinned");
            Assert.Matches(@"^(digest|v?\d+\.\d+\.\d+.*|\d{4}-CU\d+.*)$", tag);
        }
    }

    [Fact]
    public void Grafana_needs_a_login_whose_password_comes_from_the_environment()
    {
        var env = Environment("grafana");
        Assert.Equal("false", env["GF_AUTH_ANONYMOUS_ENABLED"]);
        Assert.Equal("false", env["GF_USERS_ALLOW_SIGN_UP"]);
        Assert.StartsWith("${GRAFANA_ADMIN_PASSWORD:?", env["GF_SECURITY_ADMIN_PASSWORD"], StringComparison.Ordinal);
        Assert.DoesNotContain(env, e => e.Key == "GF_AUTH_ANONYMOUS_ORG_ROLE" && e.Value == "Admin");
    }

    [Fact]
    public void Services_log_json_lines_with_utc_timestamps_and_send_traces_to_jaeger()
    {
        var otlp = $"{TelemetryOptions.Section}__{nameof(TelemetryOptions.OtlpEndpoint)}";
        foreach (var service in ComposeTests.PipelineServices)
        {
            var env = Environment(service);
            Assert.Equal("json", env["Logging__Console__FormatterName"]);
            Assert.Equal("true", env["Logging__Console__FormatterOptions__UseUtcTimestamp"]);
            Assert.Contains("HH:mm:ss", env["Logging__Console__FormatterOptions__TimestampFormat"], StringComparison.Ordinal);
            Assert.Equal("http://jaeger:4317", env[otlp]);
        }

        Assert.Equal("true", Environment("jaeger")["COLLECTOR_OTLP_ENABLED"]);
    }

    [Fact]
    public void Alertmanager_sends_every_alert_to_the_documented_webhook_whose_url_comes_from_the_environment()
    {
        var config = ComposeTests.Yaml("infra/alertmanager/alertmanager.yml");
        var receiver = ((YamlScalarNode)((YamlMappingNode)config["route"])["receiver"]).Value;
        var receivers = ((YamlSequenceNode)config["receivers"]).Cast<YamlMappingNode>().ToList();
        var webhook = (YamlMappingNode)((YamlSequenceNode)receivers.Single(r => ((YamlScalarNode)r["name"]).Value == receiver)["webhook_configs"])[0];
        var urlFile = ((YamlScalarNode)webhook["url_file"]).Value!;

        // The compose entry point writes the URL from the environment to that file, then starts Alertmanager on the mounted config.
        var alertmanager = Service("alertmanager");
        var entrypoint = string.Join(' ', ((YamlSequenceNode)Get(alertmanager, "entrypoint")!).Select(e => ((YamlScalarNode)e).Value));
        Assert.Contains($"\"$$ALERTMANAGER_WEBHOOK_URL\" > {urlFile}", entrypoint, StringComparison.Ordinal);
        Assert.Contains("--config.file=/etc/alertmanager/alertmanager.yml", entrypoint, StringComparison.Ordinal);
        Assert.Contains("./infra/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro", ComposeTests.Volumes("alertmanager"));
        Assert.StartsWith("${ALERTMANAGER_WEBHOOK_URL:?", Environment("alertmanager")["ALERTMANAGER_WEBHOOK_URL"], StringComparison.Ordinal);

        var docs = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs/observability.md"));
        Assert.Contains("ALERTMANAGER_WEBHOOK_URL", docs, StringComparison.Ordinal);
        Assert.Contains("infra/alertmanager/alertmanager.yml", docs, StringComparison.Ordinal);
    }

    private static bool IsTracked(string path)
    {
        var info = new System.Diagnostics.ProcessStartInfo("git", ["-C", RepoPaths.Root, "ls-files", "--error-unmatch", path])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var git = System.Diagnostics.Process.Start(info)!;
        git.WaitForExit();
        return git.ExitCode == 0;
    }

    [GeneratedRegex("PASSWORD|SECRET|TOKEN|API_?KEY|WEBHOOK_URL")]
    private static partial Regex SecretName();
}
