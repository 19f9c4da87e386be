using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Data;

/// <summary>
/// Labelled model inputs on the CPU: <see cref="Images"/> is float32 [N, ...input_shape] (images [N, C, H, W] in
/// [0, 1] for image models, [N, F] rows for tabular ones), <see cref="Labels"/> is int64 [N]. The dataset owns both tensors.
/// </summary>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Creates a dataset that takes ownership of the given tensors.</summary>
    public ImageDataset(Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.dim() < 2) throw new ArgumentException("inputs must be [N, ...input_shape]", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException("labels must be [N] and match the images", nameof(labels));
        Images = images.DetachFromDisposeScope();
        Labels = labels.DetachFromDisposeScope();
    }

    /// <summary>float32 [N, ...input_shape].</summary>
    public Tensor Images { get; }

    /// <summary>int64 [N].</summary>
    public Tensor Labels { get; }

    /// <summary>Number of samples.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>A new dataset holding the samples at the given indices (copied).</summary>
    public ImageDataset Select(long[] indices)
    {
        using var scope = NewDisposeScope();
        using var idx = torch.tensor(indices, ScalarType.Int64);
        var images = Images.index_select(0, idx);
        var labels = Labels.index_select(0, idx);
        var result = new ImageDataset(images, labels);
        return result;
    }

    /// <summary>A new dataset with samples [start, start + count).</summary>
    public ImageDataset Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count) throw new ArgumentOutOfRangeException(nameof(count));
        return Select(Enumerable.Range(start, count).Select(i => (long)i).ToArray());
    }

    /// <summary>The first min(count, Count) samples.</summary>
    public ImageDataset Take(int count) => Slice(0, Math.Min(count, Count));

    /// <summary>A seeded permutation of the samples.</summary>
    public ImageDataset Shuffle(int seed) => Select(Permutation(Count, seed));

    /// <summary>Labels as an array.</summary>
    public long[] LabelArray() => Labels.data<long>().ToArray();

    /// <summary>One input shape without the batch dimension.</summary>
    public int[] InputShape => Images.shape.Skip(1).Select(d => (int)d).ToArray();

    /// <summary>Inputs flattened to feature rows (row-major).</summary>
    public float[][] ToFeatureVectors()
    {
        var n = Count;
        var flat = Images.reshape(n, -1).contiguous();
        var all = flat.data<float>().ToArray();
        flat.Dispose();
        var d = all.Length / Math.Max(1, n);
        var result = new float[n][];
        for (var i = 0; i < n; i++) result[i] = all.AsSpan(i * d, d).ToArray();
        return result;
    }

    /// <summary>Builds a dataset from feature rows (row-major, <paramref name="inputShape"/> each) and labels.</summary>
    public static ImageDataset FromFeatureVectors(IReadOnlyList<float[]> features, IReadOnlyList<long> labels, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        var images = Features.ToTensor(features, inputShape);
        return new ImageDataset(images, torch.tensor(labels.ToArray(), ScalarType.Int64));
    }

    /// <summary>A deterministic Fisher–Yates permutation of 0..n-1 (System.Random with a seed).</summary>
    public static long[] Permutation(int n, int seed)
    {
        var rng = new Random(seed);
        var p = new long[n];
        for (var i = 0; i < n; i++) p[i] = i;
        for (var i = n - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Conversion between flat feature rows (what HTTP requests and feature blobs carry) and model input tensors.</summary>
public static class Features
{
    /// <summary>Values in one row for a model input of <paramref name="inputShape"/> (the product of its dimensions).</summary>
    public static int Length(IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 0 || inputShape.Any(d => d <= 0))
            throw new ArgumentException($"input shape [{string.Join(", ", inputShape)}] must have positive dimensions", nameof(inputShape));
        return checked(inputShape.Aggregate(1, (a, d) => a * d));
    }

    /// <summary>Turns rows of <see cref="Length"/> floats each into a float32 tensor [N, ...inputShape].</summary>
    public static Tensor ToTensor(IReadOnlyList<float[]> rows, IReadOnlyList<int> inputShape)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var length = Length(inputShape);
        var n = rows.Count;
        var flat = new float[(long)n * length];
        for (var i = 0; i < n; i++)
        {
            var f = rows[i] ?? throw new ArgumentException($"feature vector {i} is null", nameof(rows));
            if (f.Length != length)
                throw new ArgumentException($"feature vector {i} has {f.Length} values; expected {length}", nameof(rows));
            Array.Copy(f, 0, flat, (long)i * length, length);
        }
        return torch.tensor(flat, new long[] { n }.Concat(inputShape.Select(d => (long)d)).ToArray());
    }
}
