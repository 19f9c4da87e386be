using static TorchSharp.torch;

namespace Pipeline.ML.Data;

/// <summary>Seeded, disjoint splits of Fashion-MNIST.</summary>
/// <remarks>
/// Train file (60k) → <see cref="Validation"/> (first <c>validation</c> of a seeded permutation) and
/// <see cref="Train"/> (the rest). Test file (10k) → <see cref="ReferenceHoldout"/> (first <c>holdout</c>
/// of a seeded permutation) and <see cref="Test"/> (the rest).
/// </remarks>
public sealed class FashionMnistSplits : IDisposable
{
    internal FashionMnistSplits(ImageDataset train, ImageDataset validation, ImageDataset test, ImageDataset holdout)
    {
        Train = train;
        Validation = validation;
        Test = test;
        ReferenceHoldout = holdout;
    }

    /// <summary>Training split (base model training).</summary>
    public ImageDataset Train { get; }

    /// <summary>Validation split (never used to train the base model; the benchmark draws adaptation sets from it).</summary>
    public ImageDataset Validation { get; }

    /// <summary>Test split (evaluation).</summary>
    public ImageDataset Test { get; }

    /// <summary>Reference holdout (drift-detection reference window).</summary>
    public ImageDataset ReferenceHoldout { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test.Dispose();
        ReferenceHoldout.Dispose();
    }
}

/// <summary>Loads Fashion-MNIST and user IDX files into tensors.</summary>
public static class FashionMnist
{
    /// <summary>Fashion-MNIST class names, index = label.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>Image side length.</summary>
    public const int Side = 28;

    /// <summary>Pixels per image (28 × 28).</summary>
    public const int ImageLength = Side * Side;

    /// <summary>One image as a model input: [1, 28, 28].</summary>
    public static IReadOnlyList<int> InputShape { get; } = [1, Side, Side];

    /// <summary>$PIPELINE_DATA_DIR, else /usr/share/datasets/fashion-mnist.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("PIPELINE_DATA_DIR") is { Length: > 0 } d ? d : "/usr/share/datasets/fashion-mnist";

    /// <summary>True when the four Fashion-MNIST files (gzip or raw) exist in the directory.</summary>
    public static bool IsAvailable(string? directory = null)
    {
        var dir = directory ?? DefaultDirectory;
        return new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
            .All(f => FindFile(dir, f) is not null);
    }

    /// <summary>The 60k training file.</summary>
    public static ImageDataset LoadTrain(string? directory = null) => LoadPair(directory, "train");

    /// <summary>The 10k test file.</summary>
    public static ImageDataset LoadTest(string? directory = null) => LoadPair(directory, "t10k");

    /// <summary>Loads both files and splits them deterministically with the seed.</summary>
    public static FashionMnistSplits LoadSplits(int seed, string? directory = null, int validation = 5000, int holdout = 2000)
    {
        using var trainFile = LoadTrain(directory);
        using var testFile = LoadTest(directory);
        if (validation >= trainFile.Count || holdout >= testFile.Count)
            throw new ArgumentOutOfRangeException(nameof(validation), "split sizes exceed the data");
        var p = ImageDataset.Permutation(trainFile.Count, seed);
        var q = ImageDataset.Permutation(testFile.Count, seed + 7919);
        return new FashionMnistSplits(
            trainFile.Select(p[validation..]),
            trainFile.Select(p[..validation]),
            testFile.Select(q[holdout..]),
            testFile.Select(q[..holdout]));
    }

    /// <summary>
    /// Loads a user's images + labels from IDX files (gzip or raw). Images: ubyte [N, 28, 28] or [N, 784]
    /// (scaled by 1/255) or float of the same shapes already in [0, 1] (clamped); labels: ubyte [N] in 0..9.
    /// </summary>
    public static ImageDataset LoadIdx(string imagesPath, string labelsPath)
    {
        var images = IdxReader.Read(imagesPath);
        var labels = IdxReader.Read(labelsPath);
        var isImages = images.Dimensions.Length == 3 && images.Dimensions[1] == Side && images.Dimensions[2] == Side;
        var isVectors = images.Dimensions.Length == 2 && images.Dimensions[1] == ImageLength;
        if (!isImages && !isVectors)
            throw new InvalidDataException($"{imagesPath}: expected images [N, 28, 28] or [N, 784], got [{string.Join(", ", images.Dimensions)}]");
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"{labelsPath}: expected {images.Dimensions[0]} labels, got [{string.Join(", ", labels.Dimensions)}]");
        if (labels.Bytes is null) throw new InvalidDataException($"{labelsPath}: labels must be unsigned bytes");
        var n = images.Dimensions[0];
        float[] pixels;
        if (images.Bytes is { } bytes)
        {
            pixels = new float[bytes.Length];
            for (var i = 0; i < bytes.Length; i++) pixels[i] = bytes[i] / 255f;
        }
        else
        {
            pixels = images.Floats!;
        }
        var lab = new long[n];
        for (var i = 0; i < n; i++)
        {
            if (labels.Bytes[i] > 9) throw new InvalidDataException($"{labelsPath}: label {labels.Bytes[i]} at {i} is not in 0..9");
            lab[i] = labels.Bytes[i];
        }
        return new ImageDataset(
            TorchSharp.torch.tensor(pixels, new long[] { n, 1, Side, Side }).clamp(0, 1),
            TorchSharp.torch.tensor(lab, ScalarType.Int64));
    }

    private static ImageDataset LoadPair(string? directory, string prefix)
    {
        var dir = directory ?? DefaultDirectory;
        var images = FindFile(dir, $"{prefix}-images-idx3-ubyte")
            ?? throw new FileNotFoundException($"Fashion-MNIST {prefix} images not found in {dir}");
        var labels = FindFile(dir, $"{prefix}-labels-idx1-ubyte")
            ?? throw new FileNotFoundException($"Fashion-MNIST {prefix} labels not found in {dir}");
        return LoadIdx(images, labels);
    }

    private static string? FindFile(string dir, string stem)
    {
        foreach (var name in new[] { stem + ".gz", stem })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
