using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Pipeline.ML.Tests;

/// <summary>Small synthetic data: class c is a bright 4×4 patch at a class-specific position plus noise.</summary>
internal static class Synthetic
{
    public static ImageDataset Dataset(int n, int seed)
    {
        var rng = new Random(seed);
        var pixels = new float[n * 784];
        var labels = new long[n];
        for (var i = 0; i < n; i++)
        {
            var c = i % 10;
            labels[i] = c;
            var r0 = 2 + (c / 5) * 12 + rng.Next(3);
            var c0 = 2 + (c % 5) * 5 + rng.Next(2);
            for (var p = 0; p < 784; p++) pixels[i * 784 + p] = (float)(rng.NextDouble() * 0.1);
            for (var r = r0; r < r0 + 4; r++)
                for (var q = c0; q < c0 + 4; q++) pixels[i * 784 + r * 28 + q] = 0.9f;
        }
        return new ImageDataset(torch.tensor(pixels, new long[] { n, 1, 28, 28 }), torch.tensor(labels, ScalarType.Int64));
    }

    public static Dictionary<string, float[]> Snapshot(ModelBundle m) =>
        m.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.detach().cpu().contiguous().data<float>().ToArray());

    public static Dictionary<string, bool[]> MaskArrays(Pipeline.ML.Sensitivity.SensitivityMask mask) =>
        mask.Masks.ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().data<bool>().ToArray());

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static bool BitEqual(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "pipeline-ml-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}

/// <summary>A fact that is skipped (with the reason) when the Fashion-MNIST files are missing.</summary>
internal sealed class FashionMnistFactAttribute : FactAttribute
{
    public FashionMnistFactAttribute()
    {
        if (!FashionMnist.IsAvailable()) Skip = "Fashion-MNIST not found at " + FashionMnist.DefaultDirectory;
    }
}
