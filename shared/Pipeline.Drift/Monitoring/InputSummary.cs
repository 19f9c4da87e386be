using System.Globalization;

namespace Pipeline.Drift.Monitoring;

/// <summary>How raw inputs are turned into the features that are tested.</summary>
public enum InputSummaryKind
{
    /// <summary>Every input column is a feature (tabular data).</summary>
    Raw,
    /// <summary>
    /// Images: a grid × grid average pooling of the H × W pixels, plus the image's mean
    /// intensity, intensity standard deviation and ink fraction (pixels above a threshold).
    /// 28×28 with grid 7 gives 49 + 3 = 52 features instead of 784.
    /// </summary>
    ImagePooled,
}

/// <summary>Input summarisation settings, stored in the profile so the monitor applies the same.</summary>
public sealed record InputSummary
{
    /// <summary>Kind.</summary>
    public InputSummaryKind Kind { get; init; } = InputSummaryKind.Raw;
    /// <summary>Expected number of input columns per row.</summary>
    public int InputWidth { get; init; }
    /// <summary>Image height (ImagePooled).</summary>
    public int ImageHeight { get; init; }
    /// <summary>Image width (ImagePooled).</summary>
    public int ImageWidth { get; init; }
    /// <summary>Pooling grid cells per side (ImagePooled).</summary>
    public int Grid { get; init; } = 7;
    /// <summary>Pixel value above which a pixel counts as ink (ImagePooled).</summary>
    public double InkThreshold { get; init; } = 0.5;
    /// <summary>Optional names of the raw columns (Raw); default f0, f1, ….</summary>
    public IReadOnlyList<string>? FeatureNames { get; init; }

    /// <summary>Raw tabular summary of a given width.</summary>
    public static InputSummary RawColumns(int width, IReadOnlyList<string>? names = null) =>
        new() { Kind = InputSummaryKind.Raw, InputWidth = width, FeatureNames = names };

    /// <summary>Pooled image summary (default 28 × 28 → 7 × 7 grid).</summary>
    public static InputSummary Image(int height = 28, int width = 28, int grid = 7, double inkThreshold = 0.5) =>
        new() { Kind = InputSummaryKind.ImagePooled, InputWidth = height * width, ImageHeight = height, ImageWidth = width, Grid = grid, InkThreshold = inkThreshold };

    /// <summary>Number of summary features.</summary>
    public int OutputWidth => Kind == InputSummaryKind.Raw ? InputWidth : Grid * Grid + 3;

    /// <summary>Throws <see cref="DriftInputException"/> when inconsistent.</summary>
    public void Validate()
    {
        if (InputWidth < 1) throw new DriftInputException($"InputWidth must be positive, got {InputWidth}.");
        if (Kind == InputSummaryKind.Raw)
        {
            if (FeatureNames is not null && FeatureNames.Count != InputWidth)
                throw new DriftInputException($"{FeatureNames.Count} feature names for {InputWidth} columns.");
            return;
        }
        if (ImageHeight * ImageWidth != InputWidth)
            throw new DriftInputException($"Image {ImageHeight}x{ImageWidth} does not match InputWidth {InputWidth}.");
        if (Grid < 1 || Grid > ImageHeight || Grid > ImageWidth)
            throw new DriftInputException($"Grid {Grid} must be between 1 and the image side.");
    }

    /// <summary>Names of the summary features.</summary>
    public string[] Names()
    {
        if (Kind == InputSummaryKind.Raw)
        {
            return FeatureNames?.ToArray()
                   ?? Enumerable.Range(0, InputWidth).Select(i => "f" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        }
        var names = new List<string>(OutputWidth);
        for (int r = 0; r < Grid; r++)
        {
            for (int c = 0; c < Grid; c++) names.Add(string.Create(CultureInfo.InvariantCulture, $"pool_r{r}_c{c}"));
        }
        names.Add("pixel_mean");
        names.Add("pixel_std");
        names.Add("ink_fraction");
        return names.ToArray();
    }

    /// <summary>
    /// Summarises one row of exactly <see cref="InputWidth"/> values into <paramref name="output"/>.
    /// Raw: copies (non-finite stay non-finite and are excluded later). ImagePooled: non-finite
    /// pixels are ignored; a cell with no finite pixel yields NaN (excluded later).
    /// </summary>
    public void Apply(ReadOnlySpan<float> row, Span<double> output)
    {
        if (Kind == InputSummaryKind.Raw)
        {
            for (int i = 0; i < row.Length; i++) output[i] = row[i];
            return;
        }
        int g = Grid;
        Span<double> sums = stackalloc double[g * g];
        Span<int> counts = stackalloc int[g * g];
        sums.Clear();
        counts.Clear();
        double total = 0, totalSq = 0;
        int finite = 0, ink = 0;
        for (int y = 0; y < ImageHeight; y++)
        {
            int cy = y * g / ImageHeight;
            for (int x = 0; x < ImageWidth; x++)
            {
                float v = row[y * ImageWidth + x];
                if (!float.IsFinite(v)) continue;
                int cell = cy * g + x * g / ImageWidth;
                sums[cell] += v;
                counts[cell]++;
                total += v;
                totalSq += (double)v * v;
                finite++;
                if (v > InkThreshold) ink++;
            }
        }
        for (int i = 0; i < g * g; i++) output[i] = counts[i] > 0 ? sums[i] / counts[i] : double.NaN;
        if (finite == 0)
        {
            output[g * g] = output[g * g + 1] = output[g * g + 2] = double.NaN;
            return;
        }
        double mean = total / finite;
        output[g * g] = mean;
        output[g * g + 1] = Math.Sqrt(Math.Max(0, totalSq / finite - mean * mean));
        output[g * g + 2] = (double)ink / finite;
    }
}
