using System.Globalization;
using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Monitoring;

/// <summary>The statistics of one window (everything but the raise decision).</summary>
internal sealed record WindowStatistics(
    IReadOnlyList<FeatureScore> Features, int EvaluatedFeatures, double ShareDrifted, bool DatasetDrift, double DatasetDriftScore,
    DriftSeverity Severity, IReadOnlyList<string> TopFeatures, MmdResult? Mmd, bool MmdDrifted, PredictionDrift? Prediction);

/// <summary>
/// Compares a window's rows with a <see cref="ReferenceProfile"/>: per-feature tests (KS/PSI/W1/JS for
/// numeric features, chi-squared for categorical ones), MMD on embeddings or standardised features,
/// prediction drift, and the dataset-drift decision and severity. Stateless; thread-safe.
/// </summary>
internal sealed class WindowEvaluator(ReferenceProfile profile, MonitorOptions options)
{
    private readonly ReferenceProfile _profile = profile;
    private readonly MonitorOptions _options = options;
    private readonly string[] _names = profile.Features.Select(f => f.Name).ToArray();

    public WindowStatistics Evaluate(Observation[] rows, long windowId, SortedDictionary<string, int> problems)
    {
        var columns = ReferenceProfile.Summarise(_profile.Summary, rows);
        int w = _profile.Features.Count;
        var partials = new (NumericStatistics? Num, CategoricalStatistics? Cat, int Count, int Excluded, string? Note)[w];
        void One(int f)
        {
            var fp = _profile.Features[f];
            partials[f] = fp.Kind == "categorical" ? EvalCategorical(fp, columns[f]) : EvalNumeric(fp, columns[f]);
        }
        if (w >= 32) Parallel.For(0, w, One);
        else for (int f = 0; f < w; f++) One(f);

        int evaluated = partials.Count(p => p.Note is null);
        var decision = _options.Decision;
        var scores = new FeatureScore[w];
        int drifted = 0;
        long nonFinite = 0;
        for (int f = 0; f < w; f++)
        {
            var p = partials[f];
            nonFinite += p.Excluded;
            bool d = p.Note is null && (p.Num is not null ? decision.NumericDrifted(p.Num, evaluated) : decision.CategoricalDrifted(p.Cat!, evaluated));
            if (d) drifted++;
            if (p.Note is not null) Problems.Note(problems, $"feature '{_names[f]}' not evaluated: {p.Note}");
            if (p.Cat is { UnseenCategories.Count: > 0 })
                Problems.Note(problems, $"feature '{_names[f]}': categories unseen in the reference: {string.Join(", ", p.Cat.UnseenCategories)}");
            scores[f] = new FeatureScore(
                _names[f], _profile.Features[f].Kind, d,
                p.Num?.Ks.Statistic, p.Num?.Ks.PValue ?? p.Cat?.ChiSquared.PValue,
                p.Num?.Psi ?? p.Cat?.Psi, p.Num?.JensenShannon ?? p.Cat?.JensenShannon, p.Num?.Wasserstein,
                p.Cat?.ChiSquared.Statistic, p.Count, p.Excluded,
                p.Cat is { UnseenCategories.Count: > 0 } ? p.Cat.UnseenCategories : null, p.Note);
        }
        if (nonFinite > 0)
            Problems.Note(problems, string.Create(CultureInfo.InvariantCulture, $"{nonFinite} non-finite feature values excluded"));
        double share = evaluated == 0 ? 0.0 : (double)drifted / evaluated;

        MmdResult? mmd = null;
        if (_options.EnableMmd && _profile.Multivariate is { Sample.Count: >= 2 } mv)
        {
            mmd = RunMmd(mv, rows, columns, windowId, problems);
        }
        bool mmdDrifted = mmd is not null && mmd.PValue < _options.MmdAlpha;
        var prediction = EvalPredictions(rows, problems);

        bool dataset = (evaluated > 0 && share >= decision.DatasetDriftShare) || (_options.MmdCountsAsDatasetDrift && mmdDrifted);
        double score = Math.Max(share, _options.MmdCountsAsDatasetDrift && mmdDrifted ? 1.0 - mmd!.PValue : 0.0);
        var severity = !dataset
            ? (drifted > 0 || mmdDrifted || prediction is { Drifted: true } ? DriftSeverity.Low : DriftSeverity.None)
            : (share >= _options.HighShare || prediction is { Drifted: true } ? DriftSeverity.High : DriftSeverity.Medium);

        var top = Enumerable.Range(0, w)
            .Where(f => scores[f].Drifted)
            .OrderBy(f => scores[f].PValue ?? double.MaxValue)
            .ThenByDescending(f => scores[f].Psi ?? 0)
            .Take(_options.TopFeatures)
            .Select(f => _names[f])
            .ToList();

        return new WindowStatistics(scores, evaluated, share, dataset, score, severity, top, mmd, mmdDrifted, prediction);
    }

    private static (NumericStatistics?, CategoricalStatistics?, int, int, string?) EvalNumeric(FeatureProfile fp, double[] column)
    {
        var values = new double[column.Length];
        int n = 0;
        foreach (double v in column)
        {
            if (double.IsFinite(v)) values[n++] = v;
        }
        int excluded = column.Length - n;
        if (fp.Count == 0 || fp.Sorted.Length == 0) return (null, null, n, excluded, "no finite values in the reference");
        if (n == 0) return (null, null, 0, excluded, "no finite values in the window");
        var cur = values.AsSpan(0, n);
        cur.Sort();
        var (numerator, w1) = NumericDrift.KsAndWasserstein(fp.Sorted, cur);
        KsResult ks = fp.IsSketch
            ? KolmogorovSmirnov.PValue(numerator / ((double)fp.Sorted.Length * n), (int)Math.Min(fp.Count, int.MaxValue), n)
            : KolmogorovSmirnov.FromNumerator(numerator, fp.Sorted.Length, n);
        var cp = Binning.Proportions(Binning.CountsSorted(fp.BinEdges, cur));
        var stats = new NumericStatistics(ks, Binning.Psi(fp.BinProportions, cp), w1, Binning.JensenShannon(fp.BinProportions, cp));
        return (stats, null, n, excluded, null);
    }

    private static (NumericStatistics?, CategoricalStatistics?, int, int, string?) EvalCategorical(FeatureProfile fp, double[] column)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        int excluded = 0;
        foreach (double v in column)
        {
            if (!double.IsFinite(v))
            {
                excluded++;
                continue;
            }
            string k = ReferenceProfile.CategoryKey(v);
            counts[k] = counts.TryGetValue(k, out long c) ? c + 1 : 1;
        }
        int n = column.Length - excluded;
        if (fp.Categories is null || fp.Count == 0) return (null, null, n, excluded, "no values in the reference");
        if (n == 0) return (null, null, 0, excluded, "no finite values in the window");
        return (null, CategoricalDrift.Compare(fp.Categories, counts), n, excluded, null);
    }

    private MmdResult? RunMmd(MultivariateProfile mv, Observation[] rows, double[][] columns, long windowId, SortedDictionary<string, int> problems)
    {
        var cur = new List<float[]>(rows.Length);
        if (mv.Source == "embedding")
        {
            int bad = 0;
            foreach (var r in rows)
            {
                if (r.Embedding is { } e && e.Length == mv.Dimension && e.All(float.IsFinite)) cur.Add(e);
                else bad++;
            }
            if (bad > 0)
                Problems.Note(problems, string.Create(CultureInfo.InvariantCulture,
                    $"MMD: {bad} rows without a finite embedding of dimension {mv.Dimension} left out"));
        }
        else
        {
            for (int i = 0; i < rows.Length; i++) cur.Add(_profile.StandardisedFeatures(columns, i));
        }
        if (cur.Count < 2)
        {
            Problems.Note(problems, "MMD skipped: fewer than 2 usable rows");
            return null;
        }
        // Not HashCode.Combine: it is randomised per process, which made MMD p-values (and raises) differ between runs.
        int seed = unchecked((_options.Seed * 1_000_003) ^ (int)(windowId * 7_919));
        return Mmd.Test(mv.Sample, cur, _options.MmdPermutations, seed, _options.MmdMaxPoints);
    }

    private PredictionDrift? EvalPredictions(Observation[] rows, SortedDictionary<string, int> problems)
    {
        var pp = _profile.Predictions;
        if (pp is null || pp.Count == 0) return null;
        int k = pp.ClassCounts.Length;
        int maxClass = k - 1;
        foreach (var r in rows) maxClass = Math.Max(maxClass, r.PredictedClass);
        var refCounts = new long[maxClass + 1];
        Array.Copy(pp.ClassCounts, refCounts, k);
        var curCounts = new long[maxClass + 1];
        int invalidClass = 0, invalidConf = 0, labelled = 0, correct = 0;
        var conf = new List<double>(rows.Length);
        foreach (var r in rows)
        {
            if (r.PredictedClass < 0) invalidClass++;
            else curCounts[r.PredictedClass]++;
            if (float.IsFinite(r.Confidence) && r.Confidence >= 0 && r.Confidence <= 1) conf.Add(r.Confidence);
            else invalidConf++;
            if (r.Label is { } label)
            {
                labelled++;
                if (label == r.PredictedClass) correct++;
            }
        }
        if (invalidClass > 0) Problems.Note(problems, string.Create(CultureInfo.InvariantCulture, $"{invalidClass} rows with a negative predicted class left out of prediction drift"));
        if (invalidConf > 0) Problems.Note(problems, string.Create(CultureInfo.InvariantCulture, $"{invalidConf} rows with a confidence outside [0, 1] or non-finite left out"));
        var unseen = new List<string>();
        for (int c = k; c <= maxClass; c++)
        {
            if (curCounts[c] > 0) unseen.Add(c.ToString(CultureInfo.InvariantCulture));
        }
        if (unseen.Count > 0) Problems.Note(problems, $"predicted classes unseen in the reference: {string.Join(", ", unseen)}");
        if (curCounts.Sum() == 0) return null;
        var cat = CategoricalDrift.Compare(refCounts, curCounts, unseen);
        double? confP = null;
        double curMean = 0;
        if (conf.Count > 0 && pp.ConfidenceSorted.Length > 0)
        {
            var sorted = conf.ToArray();
            Array.Sort(sorted);
            curMean = sorted.Average();
            long num = KolmogorovSmirnov.StatisticNumerator(pp.ConfidenceSorted, sorted);
            confP = pp.ConfidenceIsSketch
                ? KolmogorovSmirnov.PValue(num / ((double)pp.ConfidenceSorted.Length * sorted.Length), (int)Math.Min(pp.ConfidenceCount, int.MaxValue), sorted.Length).PValue
                : KolmogorovSmirnov.FromNumerator(num, pp.ConfidenceSorted.Length, sorted.Length).PValue;
        }
        return new PredictionDrift(
            cat.ChiSquared.PValue < _options.PredictionAlpha, cat.ChiSquared, cat.Psi, cat.JensenShannon,
            pp.MeanConfidence, curMean, confP, labelled > 0 ? (double)correct / labelled : null, labelled);
    }
}
