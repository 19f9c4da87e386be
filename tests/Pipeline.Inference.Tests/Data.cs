using System.Text.Json;
using Pipeline.Contracts;
using Pipeline.ML.Models;

namespace Pipeline.Inference.Tests;

internal static class Data
{
    public const int Width = 784;

    public static float[][] Rows(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, Width).Select(_ => (float)random.NextDouble()).ToArray())
            .ToArray();
    }

    public static string PredictJson(float[][] rows) => JsonSerializer.Serialize(new { instances = rows });

    public static void AssertMatches(Prediction[] expected, IReadOnlyList<PredictionItem> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Probabilities.Length, actual[i].Probabilities.Length);
            for (var j = 0; j < expected[i].Probabilities.Length; j++)
            {
                Assert.Equal(expected[i].Probabilities[j], actual[i].Probabilities[j], 1e-5f);
            }
        }
    }

    public static bool SameProbabilities(Prediction[] expected, IReadOnlyList<PredictionItem> actual) =>
        expected.Length == actual.Count && expected.Zip(actual).All(p =>
            p.First.Probabilities.Zip(p.Second.Probabilities).All(v => Math.Abs(v.First - v.Second) < 1e-5f));
}
