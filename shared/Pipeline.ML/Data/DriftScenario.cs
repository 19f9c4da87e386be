using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Data;

/// <summary>
/// A named, deterministic covariate/label shift applied to an <see cref="ImageDataset"/>.
/// Names: <c>rotate-30</c> (degrees), <c>noise-0.3</c> (Gaussian sigma), <c>brightness-0.3</c> (additive),
/// <c>contrast-0.3</c> (factor around each image's mean), <c>blur-1.5</c> (Gaussian sigma in pixels),
/// <c>invert</c>, <c>prior-shift-0.1</c> (keep this fraction of classes 5..9), <c>none</c>.
/// The number may be omitted to use the default (<see cref="DefaultParameter"/>).
/// </summary>
public sealed record DriftScenario(string Kind, double Parameter)
{
    private static readonly string[] Kinds = ["prior-shift", "rotate", "noise", "brightness", "contrast", "blur", "invert", "none"];

    /// <summary>Canonical name, e.g. "rotate-30".</summary>
    public string Name => Kind is "invert" or "none" ? Kind : $"{Kind}-{Parameter.ToString("0.###", CultureInfo.InvariantCulture)}";

    /// <summary>Default parameter of each kind.</summary>
    public static double DefaultParameter(string kind) => kind switch
    {
        "rotate" => 30,
        "noise" => 0.3,
        "brightness" => 0.3,
        "contrast" => 0.3,
        "blur" => 1.5,
        "prior-shift" => 0.1,
        _ => 0,
    };

    /// <summary>Parses a scenario name (case-insensitive). Throws <see cref="FormatException"/> on unknown names.</summary>
    public static DriftScenario Parse(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var s = name.Trim().ToLowerInvariant();
        foreach (var kind in Kinds)
        {
            if (s == kind) return new DriftScenario(kind, DefaultParameter(kind));
            if (s.StartsWith(kind + "-", StringComparison.Ordinal) && kind is not ("invert" or "none"))
            {
                var rest = s[(kind.Length + 1)..];
                if (double.TryParse(rest, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v))
                {
                    Validate(kind, v);
                    return new DriftScenario(kind, v);
                }
            }
        }
        throw new FormatException($"unknown drift scenario '{name}' (known: rotate-DEG, noise-SIGMA, brightness-DELTA, contrast-FACTOR, blur-SIGMA, invert, prior-shift-KEEP, none)");
    }

    /// <summary>True when <paramref name="name"/> parses.</summary>
    public static bool TryParse(string name, out DriftScenario? scenario)
    {
        try
        {
            scenario = Parse(name);
            return true;
        }
        catch (FormatException)
        {
            scenario = null;
            return false;
        }
    }

    private static void Validate(string kind, double v)
    {
        var ok = kind switch
        {
            "noise" or "blur" => v >= 0,
            "contrast" => v >= 0,
            "prior-shift" => v > 0 && v <= 1,
            _ => true,
        };
        if (!ok) throw new FormatException($"invalid parameter {v} for drift scenario '{kind}'");
    }

    /// <summary>
    /// Applies the shift and returns a new dataset (the input is not modified). Deterministic for a given seed;
    /// only <c>noise</c> and <c>prior-shift</c> use randomness.
    /// </summary>
    public ImageDataset Apply(ImageDataset data, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (Kind == "prior-shift") return PriorShift(data, seed);
        using var scope = NewDisposeScope();
        var x = data.Images;
        var y = Kind switch
        {
            "rotate" => Rotate(x, Parameter),
            "noise" => AddNoise(x, Parameter, seed),
            "brightness" => (x + Parameter).clamp(0, 1),
            "contrast" => Contrast(x, Parameter),
            "blur" => Blur(x, Parameter),
            "invert" => 1 - x,
            "none" => x.clone(),
            _ => throw new InvalidOperationException($"unknown kind {Kind}"),
        };
        var labels = data.Labels.clone();
        return new ImageDataset(y.contiguous().MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates every image by <paramref name="degrees"/> (counter-clockwise, bilinear, zero fill).</summary>
    public static Tensor Rotate(Tensor images, double degrees)
    {
        ArgumentNullException.ThrowIfNull(images);
        var n = images.shape[0];
        var a = degrees * Math.PI / 180.0;
        var c = (float)Math.Cos(a);
        var s = (float)Math.Sin(a);
        var theta = torch.tensor(new float[] { c, -s, 0, s, c, 0 }, new long[] { 1, 2, 3 }, device: images.device).expand(n, 2, 3);
        return AffineSample(images, theta);
    }

    /// <summary>Resamples images with per-sample 2×3 affine matrices (normalised coordinates).</summary>
    public static Tensor AffineSample(Tensor images, Tensor theta)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(theta);
        var grid = F.affine_grid(theta, images.shape, align_corners: false);
        return F.grid_sample(images, grid, mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Zeros, align_corners: false);
    }

    private static Tensor AddNoise(Tensor x, double sigma, int seed)
    {
        using var gen = new Generator((ulong)seed);
        var noise = torch.randn(x.shape, generator: gen) * sigma;
        return (x + noise.to(x.device)).clamp(0, 1);
    }

    private static Tensor Contrast(Tensor x, double factor)
    {
        var mean = x.mean(new long[] { 1, 2, 3 }, keepdim: true);
        return (mean + (x - mean) * factor).clamp(0, 1);
    }

    /// <summary>Gaussian blur with the given sigma (kernel radius ceil(2σ), zero padding).</summary>
    public static Tensor Blur(Tensor x, double sigma)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (sigma <= 0) return x.clone();
        var r = (int)Math.Ceiling(2 * sigma);
        var k = new float[2 * r + 1];
        for (var i = -r; i <= r; i++) k[i + r] = (float)Math.Exp(-(i * i) / (2 * sigma * sigma));
        var sum = k.Sum();
        for (var i = 0; i < k.Length; i++) k[i] /= sum;
        var k1 = torch.tensor(k, device: x.device);
        var kernel = k1.outer(k1).reshape(1, 1, 2 * r + 1, 2 * r + 1);
        return F.conv2d(x, kernel, padding: new long[] { r, r }).clamp(0, 1);
    }

    private ImageDataset PriorShift(ImageDataset data, int seed)
    {
        var rng = new Random(seed);
        var labels = data.LabelArray();
        var keep = new List<long>(labels.Length);
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 5 || rng.NextDouble() < Parameter) keep.Add(i);
        }
        return data.Select(keep.ToArray());
    }
}
