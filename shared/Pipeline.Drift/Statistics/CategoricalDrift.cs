namespace Pipeline.Drift.Statistics;

/// <summary>Chi-squared, PSI and JS of one categorical feature, plus the categories unseen in the reference.</summary>
public sealed record CategoricalStatistics(
    ChiSquaredResult ChiSquared, double Psi, double JensenShannon, IReadOnlyList<string> UnseenCategories);

/// <summary>Categorical comparison over the union of categories.</summary>
public static class CategoricalDrift
{
    /// <summary>
    /// Compare category counts. Categories are the union of both sides (reference order first,
    /// ordinal), so a category seen only in the current data gets reference count 0: it enters
    /// chi-squared as its own column, PSI with the reference proportion floored at 1e-4, JS as is.
    /// </summary>
    public static CategoricalStatistics Compare(
        IReadOnlyDictionary<string, long> reference, IReadOnlyDictionary<string, long> current)
    {
        var keys = reference.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unseen = current.Where(kv => kv.Value > 0 && !reference.ContainsKey(kv.Key))
            .Select(kv => kv.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();
        keys.AddRange(unseen);
        var a = new long[keys.Count];
        var b = new long[keys.Count];
        for (int i = 0; i < keys.Count; i++)
        {
            a[i] = reference.TryGetValue(keys[i], out long x) ? x : 0;
            b[i] = current.TryGetValue(keys[i], out long y) ? y : 0;
        }
        return Compare(a, b, unseen);
    }

    /// <summary>Compare two count vectors over the same categories.</summary>
    public static CategoricalStatistics Compare(long[] reference, long[] current, IReadOnlyList<string>? unseen = null)
    {
        var chi = ChiSquared.TwoByK(reference, current);
        var rp = Binning.Proportions(reference);
        var cp = Binning.Proportions(current);
        return new CategoricalStatistics(chi, Binning.Psi(rp, cp), Binning.JensenShannon(rp, cp), unseen ?? []);
    }
}
