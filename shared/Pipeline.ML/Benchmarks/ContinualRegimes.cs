using Pipeline.ML.Data;
using Pipeline.ML.Models;

namespace Pipeline.ML.Benchmarks;

/// <summary>A regime of a user's tabular model: labelled shifted rows in a CSV file (adaptation rows, then test rows).</summary>
public sealed record CsvRegime(string Name, string Path);

/// <summary>Labelled rows and held-out test sets of the regimes (test 0 = original distribution).</summary>
internal sealed class RegimeData : IDisposable
{
    public List<string> Names { get; } = [];
    public List<ImageDataset> Labelled { get; } = [];
    public List<ImageDataset> Tests { get; } = [];

    public static RegimeData Build(FashionMnistSplits splits, IReadOnlyList<DriftScenario> scenarios, IReadOnlyList<UserRegime> users,
        int labels, int evalSize, int seed)
    {
        var data = new RegimeData();
        try
        {
            using var originalTest = splits.Test.Take(evalSize);
            data.Tests.Add(originalTest.Select(Enumerable.Range(0, originalTest.Count).Select(i => (long)i).ToArray()));
            // Disjoint slices of the validation split (never seen by the base model), wrapping when exhausted.
            var pool = splits.Validation;
            for (var j = 0; j < scenarios.Count; j++)
            {
                var sc = scenarios[j];
                var idx = Enumerable.Range(0, Math.Min(labels, pool.Count)).Select(i => (long)((j * labels + i) % pool.Count)).ToArray();
                using var raw = pool.Select(idx);
                data.Labelled.Add(sc.Apply(raw, seed * 100 + j));
                data.Tests.Add(sc.Apply(originalTest, seed * 100 + 50 + j));
                data.Names.Add(sc.Name);
            }
            foreach (var u in users)
            {
                using var all = FashionMnist.LoadIdx(u.Images, u.Labels);
                using var shuffled = all.Shuffle(seed);
                var nAdapt = Math.Min(labels, shuffled.Count / 2);
                if (nAdapt < 2) throw new ArgumentException($"--regime {u.Name}: needs at least 4 samples");
                data.Labelled.Add(shuffled.Slice(0, nAdapt));
                data.Tests.Add(shuffled.Slice(nAdapt, Math.Min(evalSize, shuffled.Count - nAdapt)));
                data.Names.Add(u.Name);
            }
            return data;
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The regimes of a user's model from CSV files, split as <c>bench adapt</c> splits them (<see cref="BenchmarkData"/>):
    /// the original file gives the original test rows (at most half of it) and, after them, the reference rows; each regime's file gives
    /// at most <paramref name="labels"/> rows (and half the file) to adapt on, then its test rows.
    /// </summary>
    public static (RegimeData Regimes, ImageDataset Reference) FromCsv(string originalCsv, IReadOnlyList<CsvRegime> regimes, string labelColumn,
        ModelInfo model, int labels, int evalSize, int seed)
    {
        var data = new RegimeData();
        try
        {
            using var original = BenchmarkData.LoadCsv(originalCsv, model, labelColumn);
            // At most half the original rows are tested on, so a budget with a larger test set still leaves reference rows.
            var (test, reference) = BenchmarkData.SplitOriginal(original, Math.Min(evalSize, original.Count / 2), seed);
            data.Tests.Add(test);
            if (reference is null) throw new ArgumentException($"{originalCsv}: {original.Count} rows leave none for the reference after {test.Count} test rows");
            foreach (var r in regimes)
            {
                using var shifted = BenchmarkData.LoadCsv(r.Path, model, labelColumn);
                if (shifted.Count < 4) throw new ArgumentException($"regime {r.Name}: {r.Path} needs at least 4 rows");
                var (adapt, shiftedTest) = BenchmarkData.SplitShifted(shifted, labels, evalSize, seed + 1);
                data.Labelled.Add(adapt);
                data.Tests.Add(shiftedTest);
                data.Names.Add(r.Name);
            }
            return (data, reference);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var d in Labelled.Concat(Tests)) d.Dispose();
    }
}
