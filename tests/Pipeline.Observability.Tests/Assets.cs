using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Observability.Tests;

/// <summary>One PromQL expression of the dashboard or the alert rules, with where it came from.</summary>
public sealed record QueryExpr(string Source, string Expr)
{
    /// <summary>The expression with Grafana's interval macros replaced as Grafana would (1s scrapes in the test).</summary>
    public string Evaluable => Assets.SubstituteMacros(Expr);

    public override string ToString() => $"{Source}: {Expr}";
}

/// <summary>The observability assets in the repository: dashboard JSON, alert rules, Prometheus config.</summary>
public static partial class Assets
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string DashboardPath => Path.Combine(RepoRoot, "infra", "grafana", "dashboards", "pipeline.json");

    public static string RulesPath => Path.Combine(RepoRoot, "infra", "prometheus", "rules.yml");

    public static string PrometheusConfigPath => Path.Combine(RepoRoot, "infra", "prometheus", "prometheus.yml");

    /// <summary>Where docker-compose mounts rules.yml and prometheus.yml refers to it.</summary>
    public const string ComposeRulesPath = "/etc/prometheus/rules.yml";

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "infra", "prometheus", "rules.yml")) &&
                Directory.Exists(Path.Combine(dir.FullName, "services")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no repository root above {AppContext.BaseDirectory}");
    }

    public static JsonObject Dashboard() =>
        JsonNode.Parse(File.ReadAllText(DashboardPath))!.AsObject();

    /// <summary>Every panel, rows' nested panels included.</summary>
    public static IEnumerable<JsonObject> Panels(JsonObject dashboard)
    {
        foreach (var node in dashboard["panels"]!.AsArray())
        {
            var panel = node!.AsObject();
            yield return panel;
            if (panel["panels"] is JsonArray nested)
            {
                foreach (var inner in nested)
                {
                    yield return inner!.AsObject();
                }
            }
        }
    }

    public static IReadOnlyList<QueryExpr> DashboardExprs()
    {
        var list = new List<QueryExpr>();
        foreach (var panel in Panels(Dashboard()))
        {
            if (panel["targets"] is not JsonArray targets)
            {
                continue;
            }

            foreach (var target in targets)
            {
                var expr = target!["expr"]?.GetValue<string>();
                if (expr is not null)
                {
                    list.Add(new QueryExpr($"panel '{panel["title"]}' {target["refId"]}", expr));
                }
            }
        }

        return list;
    }

    public static IReadOnlyList<QueryExpr> AlertExprs()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(RulesPath))
        {
            yaml.Load(reader);
        }

        var list = new List<QueryExpr>();
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        foreach (var group in ((YamlSequenceNode)root["groups"]).Cast<YamlMappingNode>())
        {
            foreach (var rule in ((YamlSequenceNode)group["rules"]).Cast<YamlMappingNode>())
            {
                var name = rule.Children.TryGetValue("alert", out var a) ? ((YamlScalarNode)a).Value
                    : ((YamlScalarNode)rule["record"]).Value;
                list.Add(new QueryExpr($"rule {name}", ((YamlScalarNode)rule["expr"]).Value!));
            }
        }

        return list;
    }

    public static int RuleGroupCount() => Regex.Matches(File.ReadAllText(RulesPath), @"(?m)^  - name: ").Count;

    public static IReadOnlyList<QueryExpr> AllExprs() => [.. DashboardExprs(), .. AlertExprs()];

    /// <summary>Grafana's macros, replaced with values that suit 1-second scrapes.</summary>
    public static string SubstituteMacros(string expr) => expr
        .Replace("$__rate_interval", "30s", StringComparison.Ordinal)
        .Replace("$__interval", "5s", StringComparison.Ordinal)
        .Replace("$__range", "5m", StringComparison.Ordinal);

    /// <summary>
    /// Metric names an expression selects: label matchers, grouping lists, range selectors, strings
    /// and function calls removed; what is left that looks like an identifier is a metric name.
    /// </summary>
    public static IReadOnlySet<string> MetricNames(string expr)
    {
        var s = SubstituteMacros(expr);
        s = Strings().Replace(s, " ");
        s = LabelMatchers().Replace(s, " ");
        s = Grouping().Replace(s, " ");
        s = RangeSelectors().Replace(s, " ");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in Identifier().Matches(s))
        {
            var followedByParen = FunctionCall().IsMatch(s[(m.Index + m.Length)..]);
            if (!followedByParen && !Keywords.Contains(m.Value))
            {
                names.Add(m.Value);
            }
        }

        return names;
    }

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan",
    };

    /// <summary>Names the services declare with prometheus-net (Metrics.CreateCounter("name", …) and friends), read from the source.</summary>
    public static IReadOnlySet<string> DeclaredMetricNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in new[] { "shared", "services" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot, folder), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ||
                    file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (Match m in Declaration().Matches(File.ReadAllText(file)))
                {
                    var name = m.Groups["name"].Value;
                    names.Add(name);
                    if (m.Groups["kind"].Value is "Histogram" or "Summary")
                    {
                        names.Add(name + "_count");
                        names.Add(name + "_sum");
                        names.Add(name + "_bucket");
                    }
                }
            }
        }

        return names;
    }

    /// <summary>What prometheus-net exports by itself (process and .NET collectors, UseHttpMetrics) and Prometheus' own up.</summary>
    public static readonly IReadOnlySet<string> BuiltInMetricNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "up",
        "process_cpu_seconds_total", "process_working_set_bytes", "process_private_memory_bytes", "process_virtual_memory_bytes",
        "process_num_threads", "process_open_handles", "process_start_time_seconds",
        "dotnet_total_memory_bytes", "dotnet_collection_count_total",
        "http_requests_received_total", "http_requests_in_progress",
        "http_request_duration_seconds_bucket", "http_request_duration_seconds_count", "http_request_duration_seconds_sum",
    };

    /// <summary>What RabbitMQ's own exporter (rabbitmq_prometheus) exports that the dashboard and the alerts use.</summary>
    public static readonly IReadOnlySet<string> BrokerMetricNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "rabbitmq_detailed_queue_messages",
    };

    /// <summary>A scrape job of infra/prometheus/prometheus.yml rendered for other targets (same path and parameters).</summary>
    public static string ScrapeJobFor(string jobName, string target)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(PrometheusConfigPath))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var job = ((YamlSequenceNode)root["scrape_configs"]).Cast<YamlMappingNode>()
            .Single(j => ((YamlScalarNode)j["job_name"]).Value == jobName);
        var text = new System.Text.StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {jobName}");
        if (job.Children.TryGetValue("metrics_path", out var path))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"    metrics_path: {((YamlScalarNode)path).Value}");
        }

        if (job.Children.TryGetValue("params", out var parameters))
        {
            text.AppendLine("    params:");
            foreach (var (key, values) in (YamlMappingNode)parameters)
            {
                var list = string.Join(", ", ((YamlSequenceNode)values).Select(v => ((YamlScalarNode)v).Value));
                text.AppendLine(CultureInfo.InvariantCulture, $"      {((YamlScalarNode)key).Value}: [{list}]");
            }
        }

        return text.AppendLine("    static_configs:")
            .AppendLine(CultureInfo.InvariantCulture, $"      - targets: ['{target}']")
            .ToString();
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeSelectors();

    [GeneratedRegex(@"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^\s*\(")]
    private static partial Regex FunctionCall();

    [GeneratedRegex(@"Metrics\.Create(?<kind>Counter|Gauge|Histogram|Summary)\(\s*""(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)""")]
    private static partial Regex Declaration();
}
