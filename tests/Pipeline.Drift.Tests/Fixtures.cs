using System.Text.Json;

namespace Pipeline.Drift.Tests;

internal static class Fixtures
{
    public static JsonElement Cases(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("cases").Clone();
    }

    public static double[] Doubles(this JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    public static long[] Longs(this JsonElement e) => e.EnumerateArray().Select(x => x.GetInt64()).ToArray();

    public static void AssertRelative(double expected, double actual, double rel, string what)
    {
        double tol = rel * Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(Math.Abs(expected - actual) <= tol || expected == actual,
            $"{what}: expected {expected:R}, got {actual:R} (rel tol {rel})");
    }

    public static void AssertAbsolute(double expected, double actual, double abs, string what)
    {
        Assert.True(Math.Abs(expected - actual) <= abs, $"{what}: expected {expected:R}, got {actual:R} (abs tol {abs})");
    }
}
