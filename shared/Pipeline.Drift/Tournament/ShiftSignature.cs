using System.Globalization;

namespace Pipeline.Drift.Tournament;

/// <summary>What moved, read from a drift report's top features.</summary>
public enum ShiftKind
{
    /// <summary>Nothing the policy can read (an operator's run, or no feature named).</summary>
    Unknown,

    /// <summary>Global intensity statistics moved (pixel mean, spread, ink): contrast, brightness, noise, inversion.</summary>
    Intensity,

    /// <summary>Where the ink is moved (pooled cells), intensity statistics did not: rotation, translation, blur.</summary>
    Spatial,

    /// <summary>Only the model's embedding or its predictions moved (the MMD or prediction tests).</summary>
    Embedding,

    /// <summary>Intensity and spatial features both moved.</summary>
    Mixed,

    /// <summary>Columns of a tabular model's input moved (numeric by KS, categorical by chi-squared), no image feature did.</summary>
    Tabular,
}

/// <summary>A moved feature of the drift report: its name, the test that flagged it (ks, chi2, mmd, prediction) and its statistic.</summary>
public sealed record MovedFeature(string Name, string Test, double? Statistic = null);

/// <summary>The drift a tournament answers: severity, what moved, and how many labelled rows there are to learn from.</summary>
public sealed record ShiftSignature(string Severity, double DriftScore, ShiftKind Kind, IReadOnlyList<string> Moved, int? LabelRows)
{
    private static readonly HashSet<string> IntensityFeatures = ["pixel_mean", "pixel_std", "ink_fraction"];

    /// <summary>
    /// Reads the kind of shift from every drifted feature of the report (names of the image summary, docs/drift.md).
    /// A change of intensity (contrast, brightness, noise) moves the pooled cells too, so at least two of the three
    /// global intensity statistics make it Intensity whatever the cells do, unless a cell moved more than any of them
    /// (by the test statistic, when known): then Mixed. Cells with at most one intensity statistic are Spatial
    /// (rotation, translation and blur keep the intensity distribution, ink fraction at most). No image feature but a
    /// column of a tabular model's input (any other name, tested by KS or chi-squared): Tabular, whatever the embedding
    /// or the predictions do. Only the embedding or the predictions: Embedding.
    /// </summary>
    public static ShiftSignature From(string severity, double driftScore, IReadOnlyList<MovedFeature> features, int? labelRows = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        var intensityMoved = features.Where(f => IntensityFeatures.Contains(f.Name)).ToList();
        var spatialMoved = features.Where(f => f.Name.StartsWith("pool_", StringComparison.Ordinal)).ToList();
        var intensity = intensityMoved.Select(f => f.Name).Distinct().Count();
        bool IsEmbedding(MovedFeature f) => f.Test is "mmd" or "prediction" || f.Name.StartsWith("embedding", StringComparison.Ordinal);
        var embedding = features.Count(IsEmbedding);
        var columns = features.Count(f => f.Test is "ks" or "chi2" && !IsEmbedding(f) && !IsImageFeature(f.Name));
        var cellsLead = spatialMoved.Count > 0 && intensityMoved.Count > 0
            && spatialMoved.Max(f => f.Statistic ?? double.NegativeInfinity) > intensityMoved.Max(f => f.Statistic ?? double.PositiveInfinity);
        var kind = (intensity, spatialMoved.Count) switch
        {
            (>= 2, > 0) when cellsLead => ShiftKind.Mixed,
            (>= 2, _) => ShiftKind.Intensity,
            (_, > 0) => ShiftKind.Spatial,
            (1, 0) => ShiftKind.Intensity,
            _ when columns > 0 => ShiftKind.Tabular,
            _ => embedding > 0 ? ShiftKind.Embedding : ShiftKind.Unknown,
        };
        return new ShiftSignature(severity, driftScore, kind, features.Select(f => f.Name).Distinct().ToList(), labelRows);
    }

    /// <summary>A feature of the image summary (docs/drift.md): a pooled cell or a global intensity statistic.</summary>
    public static bool IsImageFeature(string name) =>
        IntensityFeatures.Contains(name) || name.StartsWith("pool_", StringComparison.Ordinal);

    /// <summary>Severity as the drift report names it, compared case-insensitively.</summary>
    public bool IsSeverity(string name) => string.Equals(Severity, name, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Kind.ToString().ToLowerInvariant()} shift, severity {Severity}, score {DriftScore:0.###}, {LabelRows?.ToString(CultureInfo.InvariantCulture) ?? "?"} labelled rows");
}
