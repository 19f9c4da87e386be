using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Monitoring;

/// <summary>What one tested feature needs from the reference.</summary>
public sealed class FeatureProfile
{
    /// <summary>Feature name.</summary>
    public string Name { get; set; } = "";
    /// <summary>"numeric" or "categorical".</summary>
    public string Kind { get; set; } = "numeric";
    /// <summary>Finite reference values (numeric) or non-missing values (categorical).</summary>
    public long Count { get; set; }
    /// <summary>Reference values left out as non-finite.</summary>
    public long Excluded { get; set; }
    /// <summary>Numeric: the sorted reference sample, or a sketch of it (see <see cref="IsSketch"/>).</summary>
    public double[] Sorted { get; set; } = [];
    /// <summary>
    /// True when <see cref="Sorted"/> holds m evenly spaced order statistics
    /// (sorted[⌊(k + ½)·n/m⌋], k = 0..m−1) instead of all n values.
    /// </summary>
    public bool IsSketch { get; set; }
    /// <summary>
    /// Bound on |KS(sketch, current) − KS(full reference, current)|: 1/(2m) for a sketch
    /// (|F_sketch − F_ref| ≤ 1/(2m) everywhere), 0 for the full sample.
    /// </summary>
    public double KsErrorBound { get; set; }
    /// <summary>Numeric: PSI/JS bin edges (reference deciles, duplicates removed).</summary>
    public double[] BinEdges { get; set; } = [];
    /// <summary>Numeric: reference proportion per bin (BinEdges.Length + 1 bins); categorical: per category.</summary>
    public double[] BinProportions { get; set; } = [];
    /// <summary>Categorical: counts per category (key: invariant "R" text of the code).</summary>
    public Dictionary<string, long>? Categories { get; set; }
    /// <summary>Reference mean and standard deviation (used to standardise MMD inputs).</summary>
    public double Mean { get; set; }
    /// <summary>Reference standard deviation (0 for a constant feature).</summary>
    public double Std { get; set; }
}

/// <summary>Reference for prediction drift.</summary>
public sealed class PredictionProfile
{
    /// <summary>Rows.</summary>
    public long Count { get; set; }
    /// <summary>Predicted-class counts, index = class.</summary>
    public long[] ClassCounts { get; set; } = [];
    /// <summary>Mean confidence over rows with a confidence in [0, 1].</summary>
    public double MeanConfidence { get; set; }
    /// <summary>Sorted confidences (sketch when large, same rule as features).</summary>
    public double[] ConfidenceSorted { get; set; } = [];
    /// <summary>Rows with a valid confidence.</summary>
    public long ConfidenceCount { get; set; }
    /// <summary>Whether ConfidenceSorted is a sketch.</summary>
    public bool ConfidenceIsSketch { get; set; }
}

/// <summary>Sample for the multivariate (MMD) test.</summary>
public sealed class MultivariateProfile
{
    /// <summary>"embedding" (model embeddings) or "features" (standardised summary features).</summary>
    public string Source { get; set; } = "features";
    /// <summary>Vector dimension.</summary>
    public int Dimension { get; set; }
    /// <summary>Reference vectors.</summary>
    public List<float[]> Sample { get; set; } = [];
}

/// <summary>Options for building a profile.</summary>
public sealed record ProfileOptions
{
    /// <summary>How inputs are summarised into tested features (default: raw columns).</summary>
    public InputSummary? Summary { get; init; }
    /// <summary>Indices of categorical summary features (Raw only); their values are category codes.</summary>
    public IReadOnlySet<int> CategoricalFeatures { get; init; } = new HashSet<int>();
    /// <summary>Keep at most this many sorted values per feature; above it, store a sketch (KS error ≤ 1/(2m)).</summary>
    public int MaxSortedSample { get; init; } = 10_000;
    /// <summary>Reference vectors kept for MMD (0 disables MMD).</summary>
    public int MmdSampleSize { get; init; } = 300;
    /// <summary>Seed of the MMD subsample.</summary>
    public int Seed { get; init; } = 17;
}

/// <summary>
/// Everything the drift monitor needs from a model version's reference (training) data,
/// computed once when the version is registered and stored as JSON.
/// </summary>
public sealed class ReferenceProfile
{
    /// <summary>Format version of the JSON.</summary>
    public int SchemaVersion { get; set; } = 1;
    /// <summary>Model id.</summary>
    public string ModelId { get; set; } = "";
    /// <summary>Model version.</summary>
    public int ModelVersion { get; set; }
    /// <summary>When it was built.</summary>
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Reference rows used.</summary>
    public long Rows { get; set; }
    /// <summary>Input summarisation (also fixes the expected input width).</summary>
    public InputSummary Summary { get; set; } = new();
    /// <summary>One entry per tested feature, in summary order.</summary>
    public List<FeatureProfile> Features { get; set; } = [];
    /// <summary>Prediction drift reference (null when the reference had no predictions).</summary>
    public PredictionProfile? Predictions { get; set; }
    /// <summary>MMD reference sample (null when disabled).</summary>
    public MultivariateProfile? Multivariate { get; set; }
    /// <summary>
    /// Confidence calibration fitted on the version's labelled reference holdout (null when there was
    /// none): lets the monitor estimate accuracy without labels. Set by the host, not by <see cref="Build"/>.
    /// </summary>
    public Performance.ConfidenceCalibration? Performance { get; set; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>JSON (snake_case).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads and validates a profile; <see cref="DriftInputException"/> when invalid.</summary>
    public static ReferenceProfile FromJson(string json)
    {
        ReferenceProfile? p;
        try
        {
            p = JsonSerializer.Deserialize<ReferenceProfile>(json, Json);
        }
        catch (JsonException e)
        {
            throw new DriftInputException("Reference profile JSON is invalid: " + e.Message, e);
        }
        if (p is null) throw new DriftInputException("Reference profile JSON is empty.");
        p.Validate();
        return p;
    }

    /// <summary>Checks internal consistency; <see cref="DriftInputException"/> when broken.</summary>
    public void Validate()
    {
        if (SchemaVersion != 1) throw new DriftInputException($"Unsupported profile schema version {SchemaVersion}.");
        Summary.Validate();
        Performance?.Validate();
        if (Features.Count != Summary.OutputWidth)
            throw new DriftInputException($"Profile has {Features.Count} features, its summary produces {Summary.OutputWidth}.");
        foreach (var f in Features)
        {
            if (f.Kind == "numeric")
            {
                if (f.Count > 0 && (f.Sorted.Length == 0 || f.BinProportions.Length != f.BinEdges.Length + 1))
                    throw new DriftInputException($"Feature '{f.Name}': sorted sample or bins missing.");
                for (int i = 1; i < f.Sorted.Length; i++)
                {
                    if (!(f.Sorted[i - 1] <= f.Sorted[i])) throw new DriftInputException($"Feature '{f.Name}': sample not sorted.");
                }
            }
            else if (f.Kind == "categorical")
            {
                if (f.Categories is null) throw new DriftInputException($"Feature '{f.Name}': categories missing.");
            }
            else
            {
                throw new DriftInputException($"Feature '{f.Name}': unknown kind '{f.Kind}'.");
            }
        }
    }

    /// <summary>Invariant text key of a categorical code.</summary>
    public static string CategoryKey(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// Builds a profile from reference rows. Throws <see cref="DriftInputException"/> when there
    /// are no rows, a row's width differs from the summary's input width, or options are invalid.
    /// Non-finite values are excluded per feature and counted in <see cref="FeatureProfile.Excluded"/>.
    /// </summary>
    public static ReferenceProfile Build(
        string modelId, int modelVersion, IReadOnlyList<Observation> rows, ProfileOptions? options = null, DateTimeOffset? createdAt = null)
    {
        options ??= new ProfileOptions();
        if (rows.Count == 0) throw new DriftInputException("Cannot build a reference profile from zero rows.");
        if (options.MaxSortedSample < 100) throw new DriftInputException("MaxSortedSample must be at least 100.");
        var summary = options.Summary ?? InputSummary.RawColumns(rows[0].Features?.Length ?? 0);
        summary.Validate();
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i]?.Features is null || rows[i].Features.Length != summary.InputWidth)
                throw new DriftInputException($"Reference row {i} has {rows[i]?.Features?.Length ?? 0} columns, expected {summary.InputWidth}.");
        }
        if (summary.Kind != InputSummaryKind.Raw && options.CategoricalFeatures.Count > 0)
            throw new DriftInputException("Categorical features are only supported with raw inputs.");

        int w = summary.OutputWidth;
        var names = summary.Names();
        var matrix = Summarise(summary, rows); // column-major
        var features = new FeatureProfile[w];
        Parallel.For(0, w, f =>
        {
            features[f] = options.CategoricalFeatures.Contains(f)
                ? CategoricalFeature(names[f], matrix[f])
                : NumericFeature(names[f], matrix[f], options.MaxSortedSample);
        });

        var profile = new ReferenceProfile
        {
            ModelId = modelId,
            ModelVersion = modelVersion,
            CreatedAt = createdAt ?? DateTimeOffset.UtcNow,
            Rows = rows.Count,
            Summary = summary,
            Features = features.ToList(),
            Predictions = BuildPredictions(rows, options.MaxSortedSample),
        };
        if (options.MmdSampleSize > 0)
        {
            profile.Multivariate = BuildMultivariate(profile, rows, matrix, options);
        }
        return profile;
    }

    internal static double[][] Summarise(InputSummary summary, IReadOnlyList<Observation> rows)
    {
        int w = summary.OutputWidth;
        var cols = new double[w][];
        for (int f = 0; f < w; f++) cols[f] = new double[rows.Count];
        var buf = new double[w];
        for (int r = 0; r < rows.Count; r++)
        {
            summary.Apply(rows[r].Features, buf);
            for (int f = 0; f < w; f++) cols[f][r] = buf[f];
        }
        return cols;
    }

    /// <summary>Sorted sample, or the 1/(2m) sketch when longer than <paramref name="max"/>.</summary>
    public static (double[] Values, bool IsSketch) SortedOrSketch(double[] sorted, int max)
    {
        if (sorted.Length <= max) return (sorted, false);
        var s = new double[max];
        long n = sorted.Length;
        for (int k = 0; k < max; k++) s[k] = sorted[(int)((2L * k + 1) * n / (2L * max))];
        return (s, true);
    }

    private static FeatureProfile NumericFeature(string name, double[] column, int maxSorted)
    {
        var finite = column.Where(double.IsFinite).ToArray();
        var fp = new FeatureProfile { Name = name, Kind = "numeric", Count = finite.Length, Excluded = column.Length - finite.Length };
        if (finite.Length == 0) return fp;
        RadixSort.Sort(finite);
        fp.BinEdges = Binning.DecileEdges(finite);
        fp.BinProportions = Binning.Proportions(Binning.CountsSorted(fp.BinEdges, finite));
        double mean = 0;
        foreach (double v in finite) mean += v;
        mean /= finite.Length;
        double var = 0;
        foreach (double v in finite) var += (v - mean) * (v - mean);
        fp.Mean = mean;
        fp.Std = Math.Sqrt(var / finite.Length);
        var (values, sketch) = SortedOrSketch(finite, maxSorted);
        fp.Sorted = values;
        fp.IsSketch = sketch;
        fp.KsErrorBound = sketch ? 1.0 / (2.0 * values.Length) : 0.0;
        return fp;
    }

    private static FeatureProfile CategoricalFeature(string name, double[] column)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long excluded = 0;
        foreach (double v in column)
        {
            if (!double.IsFinite(v))
            {
                excluded++;
                continue;
            }
            string k = CategoryKey(v);
            counts[k] = counts.TryGetValue(k, out long c) ? c + 1 : 1;
        }
        return new FeatureProfile
        {
            Name = name, Kind = "categorical", Count = column.Length - excluded, Excluded = excluded, Categories = counts,
        };
    }

    private static PredictionProfile BuildPredictions(IReadOnlyList<Observation> rows, int maxSorted)
    {
        int maxClass = 0;
        foreach (var r in rows) maxClass = Math.Max(maxClass, r.PredictedClass);
        var counts = new long[maxClass + 1];
        var conf = new List<double>(rows.Count);
        foreach (var r in rows)
        {
            if (r.PredictedClass >= 0) counts[r.PredictedClass]++;
            if (float.IsFinite(r.Confidence) && r.Confidence >= 0 && r.Confidence <= 1) conf.Add(r.Confidence);
        }
        var sorted = conf.ToArray();
        Array.Sort(sorted);
        var (values, sketch) = SortedOrSketch(sorted, maxSorted);
        return new PredictionProfile
        {
            Count = rows.Count,
            ClassCounts = counts,
            MeanConfidence = sorted.Length == 0 ? 0 : sorted.Average(),
            ConfidenceSorted = values,
            ConfidenceCount = sorted.Length,
            ConfidenceIsSketch = sketch,
        };
    }

    private static MultivariateProfile? BuildMultivariate(
        ReferenceProfile profile, IReadOnlyList<Observation> rows, double[][] matrix, ProfileOptions options)
    {
        var rng = new Random(options.Seed);
        var idx = Enumerable.Range(0, rows.Count).ToArray();
        rng.Shuffle(idx);
        int take = Math.Min(options.MmdSampleSize, rows.Count);
        int? embDim = rows[0].Embedding?.Length;
        bool useEmbedding = embDim is > 0 && rows.All(r => r.Embedding is not null && r.Embedding.Length == embDim);
        var mp = new MultivariateProfile { Source = useEmbedding ? "embedding" : "features" };
        for (int t = 0; t < take; t++)
        {
            int i = idx[t];
            float[] v = useEmbedding ? (float[])rows[i].Embedding!.Clone() : profile.StandardisedFeatures(matrix, i);
            mp.Sample.Add(v);
        }
        mp.Dimension = mp.Sample.Count > 0 ? mp.Sample[0].Length : 0;
        return mp;
    }

    /// <summary>
    /// MMD input from summary features: numeric features standardised by the reference mean and
    /// std (constant features → 0), non-finite → 0 (the reference mean); categorical features left out.
    /// </summary>
    internal float[] StandardisedFeatures(double[][] columns, int row)
    {
        var v = new List<float>(Features.Count);
        for (int f = 0; f < Features.Count; f++)
        {
            var fp = Features[f];
            if (fp.Kind != "numeric") continue;
            double x = columns[f][row];
            v.Add(double.IsFinite(x) && fp.Std > 0 ? (float)((x - fp.Mean) / fp.Std) : 0f);
        }
        return v.ToArray();
    }
}
