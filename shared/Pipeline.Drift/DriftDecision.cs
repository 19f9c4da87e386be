namespace Pipeline.Drift;

/// <summary>Which statistic decides whether a numeric feature drifted.</summary>
public enum NumericTest
{
    /// <summary>KS p-value below the threshold (default, threshold 0.05).</summary>
    Ks,
    /// <summary>PSI at or above the threshold (0.2 is the usual choice).</summary>
    Psi,
    /// <summary>Jensen–Shannon distance at or above the threshold.</summary>
    JensenShannon,
    /// <summary>Wasserstein-1 distance at or above the threshold (in the feature's units).</summary>
    Wasserstein,
}

/// <summary>Which statistic decides whether a categorical feature drifted.</summary>
public enum CategoricalTest
{
    /// <summary>Chi-squared p-value below the threshold (default, threshold 0.05).</summary>
    ChiSquared,
    /// <summary>PSI at or above the threshold.</summary>
    Psi,
    /// <summary>Jensen–Shannon distance at or above the threshold.</summary>
    JensenShannon,
}

/// <summary>Decision rules; defaults as docs/drift.md defines them.</summary>
public sealed record DriftDecisionOptions
{
    /// <summary>Test for numeric features.</summary>
    public NumericTest NumericTest { get; init; } = NumericTest.Ks;
    /// <summary>p-value threshold (Ks) or statistic threshold (others).</summary>
    public double NumericThreshold { get; init; } = 0.05;
    /// <summary>Test for categorical features.</summary>
    public CategoricalTest CategoricalTest { get; init; } = CategoricalTest.ChiSquared;
    /// <summary>p-value threshold (ChiSquared) or statistic threshold (others).</summary>
    public double CategoricalThreshold { get; init; } = 0.05;
    /// <summary>Divide p-value thresholds by the number of features evaluated.</summary>
    public bool Bonferroni { get; init; }
    /// <summary>Dataset drift when the share of drifted features is at least this.</summary>
    public double DatasetDriftShare { get; init; } = 0.5;

    /// <summary>Effective p-value threshold for m evaluated features.</summary>
    public double Alpha(double threshold, int evaluatedFeatures) =>
        Bonferroni && evaluatedFeatures > 1 ? threshold / evaluatedFeatures : threshold;

    /// <summary>Whether a numeric feature drifted under these rules.</summary>
    public bool NumericDrifted(Statistics.NumericStatistics s, int evaluatedFeatures) => NumericTest switch
    {
        NumericTest.Ks => s.Ks.PValue < Alpha(NumericThreshold, evaluatedFeatures),
        NumericTest.Psi => s.Psi >= NumericThreshold,
        NumericTest.JensenShannon => s.JensenShannon >= NumericThreshold,
        NumericTest.Wasserstein => s.Wasserstein >= NumericThreshold,
        _ => throw new InvalidOperationException($"Unknown numeric test {NumericTest}."),
    };

    /// <summary>Whether a categorical feature drifted under these rules.</summary>
    public bool CategoricalDrifted(Statistics.CategoricalStatistics s, int evaluatedFeatures) => CategoricalTest switch
    {
        CategoricalTest.ChiSquared => s.ChiSquared.PValue < Alpha(CategoricalThreshold, evaluatedFeatures),
        CategoricalTest.Psi => s.Psi >= CategoricalThreshold,
        CategoricalTest.JensenShannon => s.JensenShannon >= CategoricalThreshold,
        _ => throw new InvalidOperationException($"Unknown categorical test {CategoricalTest}."),
    };

    /// <summary>Throws <see cref="DriftInputException"/> when a value is out of range.</summary>
    public void Validate()
    {
        if (!(NumericThreshold > 0) || double.IsInfinity(NumericThreshold))
            throw new DriftInputException($"NumericThreshold must be a positive number, got {NumericThreshold}.");
        if (!(CategoricalThreshold > 0) || double.IsInfinity(CategoricalThreshold))
            throw new DriftInputException($"CategoricalThreshold must be a positive number, got {CategoricalThreshold}.");
        if (!(DatasetDriftShare > 0 && DatasetDriftShare <= 1))
            throw new DriftInputException($"DatasetDriftShare must be in (0, 1], got {DatasetDriftShare}.");
    }
}

/// <summary>
/// Bad input at an API boundary (unreadable CSV, mismatched columns, invalid options, a profile
/// that does not fit the data). The message says what is wrong; hosts catch this type.
/// </summary>
public sealed class DriftInputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DriftInputException(string message) : base(message) { }

    /// <summary>Creates the exception with a cause.</summary>
    public DriftInputException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public DriftInputException() { }
}
