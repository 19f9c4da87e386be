using Pipeline.Drift.Statistics;

namespace Pipeline.Drift.Tabular;

/// <summary>Compares two tables column by column (the `drift compare` command).</summary>
public static class DriftComparer
{
    /// <summary>Reads both CSV files and compares them.</summary>
    public static DriftCompareReport CompareFiles(
        string referencePath, string currentPath, IEnumerable<string>? categorical = null, DriftDecisionOptions? options = null)
    {
        var reference = CsvTable.Read(referencePath);
        var current = CsvTable.Read(currentPath);
        return Compare(reference, current, categorical, options);
    }

    /// <summary>
    /// Columns are matched by name and must be the same set in both tables (else
    /// <see cref="DriftInputException"/>); features follow the reference's column order.
    /// Columns named in <paramref name="categorical"/> are categorical, all others numeric.
    /// </summary>
    public static DriftCompareReport Compare(
        CsvTable reference, CsvTable current, IEnumerable<string>? categorical = null, DriftDecisionOptions? options = null)
    {
        options ??= new DriftDecisionOptions();
        options.Validate();
        var cats = new HashSet<string>(categorical ?? [], StringComparer.Ordinal);
        foreach (var c in cats)
        {
            if (reference.IndexOf(c) < 0) throw new DriftInputException($"--categorical names '{c}', which is not a column of the reference.");
        }
        var missing = reference.Columns.Where(c => current.IndexOf(c) < 0).ToList();
        var extra = current.Columns.Where(c => reference.IndexOf(c) < 0).ToList();
        if (missing.Count > 0 || extra.Count > 0)
        {
            throw new DriftInputException(
                "Reference and current columns differ: " +
                (missing.Count > 0 ? $"missing in current: {string.Join(", ", missing)}" : "") +
                (missing.Count > 0 && extra.Count > 0 ? "; " : "") +
                (extra.Count > 0 ? $"not in reference: {string.Join(", ", extra)}" : ""));
        }

        int m = reference.Columns.Count;
        var partial = new Partial[m];
        try
        {
            Parallel.For(0, m, i =>
            {
            string name = reference.Columns[i];
            var refCells = reference.Cells[i];
            var curCells = current.Cells[current.IndexOf(name)];
            partial[i] = cats.Contains(name)
                ? Categorical(name, refCells, curCells)
                : Numeric(name, refCells, curCells);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<DriftInputException>().FirstOrDefault() is { } first)
        {
            throw new DriftInputException(first.Message, first);
        }

        int evaluated = partial.Count(p => p.Error is null);
        var reports = new List<FeatureReport>(m);
        int drifted = 0;
        foreach (var p in partial)
        {
            bool d = p.Error is null && (p.Numeric is not null
                ? options.NumericDrifted(p.Numeric, evaluated)
                : options.CategoricalDrifted(p.Categorical!, evaluated));
            if (d) drifted++;
            reports.Add(p.ToReport(d));
        }
        double share = evaluated == 0 ? 0.0 : (double)drifted / evaluated;
        return new DriftCompareReport
        {
            DatasetDrift = evaluated > 0 && share >= options.DatasetDriftShare,
            ShareDrifted = share,
            Features = reports,
            ReferenceRows = reference.RowCount,
            CurrentRows = current.RowCount,
            EvaluatedFeatures = evaluated,
            DecisionRule = Describe(options, evaluated),
        };
    }

    /// <summary>Human-readable decision rule.</summary>
    public static string Describe(DriftDecisionOptions o, int evaluated)
    {
        string num = o.NumericTest switch
        {
            NumericTest.Ks => $"numeric: ks p < {o.Alpha(o.NumericThreshold, evaluated):G6}",
            _ => $"numeric: {o.NumericTest.ToString().ToLowerInvariant()} >= {o.NumericThreshold:G6}",
        };
        string cat = o.CategoricalTest switch
        {
            CategoricalTest.ChiSquared => $"categorical: chi2 p < {o.Alpha(o.CategoricalThreshold, evaluated):G6}",
            _ => $"categorical: {o.CategoricalTest.ToString().ToLowerInvariant()} >= {o.CategoricalThreshold:G6}",
        };
        return $"{num}; {cat}; dataset: share >= {o.DatasetDriftShare:G6}" + (o.Bonferroni ? " (bonferroni)" : "");
    }

    private sealed record Partial(
        string Name, bool IsCategorical, NumericStatistics? Numeric, CategoricalStatistics? Categorical,
        long RefCount, long CurCount, long RefExcluded, long CurExcluded, string? Error)
    {
        public FeatureReport ToReport(bool drifted) => new()
        {
            Name = Name,
            Kind = IsCategorical ? "categorical" : "numeric",
            Drifted = drifted,
            Ks = Numeric is null ? null : new TestReport { Statistic = Numeric.Ks.Statistic, PValue = Numeric.Ks.PValue },
            Chi2 = Categorical is null ? null : new TestReport
            {
                Statistic = Categorical.ChiSquared.Statistic, PValue = Categorical.ChiSquared.PValue, Dof = Categorical.ChiSquared.Dof,
            },
            Psi = Numeric?.Psi ?? Categorical?.Psi,
            Wasserstein = Numeric?.Wasserstein,
            JensenShannon = Numeric?.JensenShannon ?? Categorical?.JensenShannon,
            ReferenceCount = RefCount,
            CurrentCount = CurCount,
            ReferenceExcluded = RefExcluded,
            CurrentExcluded = CurExcluded,
            UnseenCategories = Categorical is { UnseenCategories.Count: > 0 } ? Categorical.UnseenCategories : null,
            Error = Error,
        };
    }

    private static Partial Numeric(string name, string[] refCells, string[] curCells)
    {
        var r = ParseColumn(name, "reference", refCells, out long rx);
        var c = ParseColumn(name, "current", curCells, out long cx);
        string? error = r.Length == 0 ? "no finite values in reference" : c.Length == 0 ? "no finite values in current" : null;
        if (error is not null) return new Partial(name, false, null, null, r.Length, c.Length, rx, cx, error);
        RadixSort.Sort(r);
        RadixSort.Sort(c);
        return new Partial(name, false, NumericDrift.Compare(r, c), null, r.Length, c.Length, rx, cx, null);
    }

    private static double[] ParseColumn(string name, string side, string[] cells, out long excluded)
    {
        var values = new List<double>(cells.Length);
        excluded = 0;
        for (int i = 0; i < cells.Length; i++)
        {
            CsvTable.CellKind kind;
            double v;
            try
            {
                kind = CsvTable.ParseNumber(cells[i], out v);
            }
            catch (FormatException e)
            {
                throw new DriftInputException(
                    $"{side} column '{name}', data row {i + 1}: {e.Message}; name the column with --categorical if it is categorical.", e);
            }
            if (kind == CsvTable.CellKind.Finite) values.Add(v);
            else excluded++;
        }
        return values.ToArray();
    }

    private static Partial Categorical(string name, string[] refCells, string[] curCells)
    {
        var r = CountCategories(refCells, out long rx);
        var c = CountCategories(curCells, out long cx);
        long rn = r.Values.Sum(), cn = c.Values.Sum();
        string? error = rn == 0 ? "no values in reference" : cn == 0 ? "no values in current" : null;
        if (error is not null) return new Partial(name, true, null, null, rn, cn, rx, cx, error);
        return new Partial(name, true, null, CategoricalDrift.Compare(r, c), rn, cn, rx, cx, null);
    }

    /// <summary>Category counts; cells are trimmed, and empty cells are missing (excluded).</summary>
    private static Dictionary<string, long> CountCategories(string[] cells, out long excluded)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        excluded = 0;
        foreach (var cell in cells)
        {
            var s = cell.Trim();
            if (s.Length == 0)
            {
                excluded++;
                continue;
            }
            d[s] = d.TryGetValue(s, out long n) ? n + 1 : 1;
        }
        return d;
    }
}
