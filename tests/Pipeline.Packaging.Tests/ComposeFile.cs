using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Packaging.Tests;

/// <summary>docker-compose.yml read the way compose reads it (YAML merge keys followed).</summary>
internal static partial class ComposeFile
{
    public static YamlMappingNode Root()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(RepoPaths.Root, "docker-compose.yml"));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    public static YamlMappingNode Services() => (YamlMappingNode)Root().Children[new YamlScalarNode("services")];

    public static YamlMappingNode Service(string name) => Assert.IsType<YamlMappingNode>(Get(Services(), name));

    public static IEnumerable<string> ServiceNames() => Services().Children.Keys.Select(k => ((YamlScalarNode)k).Value!);

    /// <summary>A key of a mapping, following YAML merge keys (<c>&lt;&lt;: *anchor</c>) the way compose does.</summary>
    public static YamlNode? Get(YamlMappingNode node, string key)
    {
        if (node.Children.TryGetValue(new YamlScalarNode(key), out var v))
        {
            return v;
        }

        return node.Children.TryGetValue(new YamlScalarNode("<<"), out var merged) && merged is YamlMappingNode parent
            ? Get(parent, key)
            : null;
    }

    public static string? Str(YamlMappingNode node, string key) => Get(node, key) is YamlScalarNode s ? s.Value : null;

    /// <summary>A service's environment with merge keys resolved (the merged anchor first, the service's own keys over it).</summary>
    public static Dictionary<string, string> Environment(string service)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Get(Service(service), "environment") is YamlMappingNode map)
        {
            Collect(map, env);
        }

        return env;
    }

    private static void Collect(YamlMappingNode map, Dictionary<string, string> env)
    {
        if (map.Children.TryGetValue(new YamlScalarNode("<<"), out var merged) && merged is YamlMappingNode parent)
        {
            Collect(parent, env);
        }

        foreach (var (k, v) in map.Children)
        {
            if (k is YamlScalarNode { Value: not "<<" } key && v is YamlScalarNode value)
            {
                env[key.Value!] = value.Value ?? "";
            }
        }
    }

    /// <summary>The host side of each published port ("8080:8080", "127.0.0.1:9090:9090").</summary>
    public static List<string> Ports(string service) =>
        Get(Service(service), "ports") is YamlSequenceNode ports ? ports.Children.Select(p => ((YamlScalarNode)p).Value!).ToList() : [];

    /// <summary>Every <c>${VAR…}</c> reference in the file: the variable and what follows its name (":?message", ":-default", "").</summary>
    public static List<(string Name, string Modifier)> VariableReferences() =>
        [.. Variable().Matches(File.ReadAllText(Path.Combine(RepoPaths.Root, "docker-compose.yml")))
            .Select(m => (m.Groups["name"].Value, m.Groups["modifier"].Value))];

    [GeneratedRegex(@"(?<!\$)\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?<modifier>[^}]*)\}")]
    private static partial Regex Variable();
}
