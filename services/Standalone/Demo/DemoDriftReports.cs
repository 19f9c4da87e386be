using System.Text.Json;
using Pipeline.Storage.Repositories;

namespace Pipeline.Standalone.Demo;

/// <summary>What the drift monitor's window reports say since a moment: its trigger decisions.</summary>
internal static class DemoDriftReports
{
    private static async Task<List<(DateTimeOffset At, string? Outcome, string? Reason)>> DecisionsAsync(
        IDriftRepository drift, string modelId, DateTimeOffset since, CancellationToken ct)
    {
        var decisions = new List<(DateTimeOffset, string?, string?)>();
        foreach (var report in (await drift.ListReportsAsync(modelId, 200, ct)).Where(r => r.CreatedAt >= since).OrderBy(r => r.CreatedAt))
        {
            using var json = JsonDocument.Parse(report.ReportJson ?? "{}");
            var trigger = json.RootElement.TryGetProperty("trigger", out var t) && t.ValueKind == JsonValueKind.Object ? t : (JsonElement?)null;
            decisions.Add((report.CreatedAt,
                trigger?.TryGetProperty("outcome", out var o) == true ? o.GetString() : null,
                trigger?.TryGetProperty("reason", out var r) == true ? r.GetString() : null));
        }

        return decisions;
    }

    /// <summary>The latest "drift without harm" reason once there are <paramref name="needed"/> of them since <paramref name="since"/>.</summary>
    public static async Task<string?> HarmlessAsync(IDriftRepository drift, string modelId, DateTimeOffset since, int needed, CancellationToken ct)
    {
        var harmless = (await DecisionsAsync(drift, modelId, since, ct)).Where(d => d.Outcome == "drift_without_harm").ToList();
        return harmless.Count >= needed ? harmless[^1].Reason ?? "" : null;
    }
}
