using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.ML.Models;

/// <summary>
/// Names a manifest's misspelt fields with the valid ones (instead of the serializer's .NET type name), and the
/// closest valid field when one is near: <c>unknown field 'clasifier_prefix' (did you mean 'classifier_prefix'?);
/// valid fields: name, format, …</c>.
/// </summary>
internal static class ManifestFields
{
    /// <summary>One line per unknown field of the manifest or of its <c>features</c> entries (empty: none, or not JSON).</summary>
    public static IReadOnlyList<string> Unknown(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return [];
            var problems = Check(doc.RootElement, Names(typeof(ModelManifest)), "manifest");
            if (doc.RootElement.TryGetProperty("features", out var features) && features.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var f in features.EnumerateArray())
                {
                    if (f.ValueKind == JsonValueKind.Object) problems.AddRange(Check(f, Names(typeof(FeatureSpec)), $"features[{i}]"));
                    i++;
                }
            }
            return problems;
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static List<string> Check(JsonElement obj, IReadOnlyList<string> valid, string where) =>
        obj.EnumerateObject().Where(p => !valid.Contains(p.Name, StringComparer.Ordinal)).Select(p =>
            $"{where}: unknown field '{p.Name}'{Closest(p.Name, valid)}; valid fields: {string.Join(", ", valid)}").ToList();

    private static List<string> Names(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
        .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name).OfType<string>().ToList();

    private static string Closest(string name, IReadOnlyList<string> valid)
    {
        var best = valid.Select(v => (v, d: Distance(name.ToLowerInvariant(), v))).OrderBy(x => x.d).First();
        return best.d <= Math.Max(2, best.v.Length / 4) ? $" (did you mean '{best.v}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }

        return row[b.Length];
    }
}
