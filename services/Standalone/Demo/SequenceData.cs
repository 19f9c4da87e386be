using Pipeline.ML.Data;

namespace Pipeline.Standalone.Demo;

/// <summary>One regime's data: rows to stream (labelled traffic) and unseen rows no stage ever sees (the accuracy matrix).</summary>
internal sealed class RegimeData(string name, ImageDataset stream, ImageDataset unseen) : IDisposable
{
    private readonly bool[] streamed = new bool[stream.Count];

    public string Name { get; } = name;

    public ImageDataset Stream { get; } = stream;

    public ImageDataset Unseen { get; } = unseen;

    public float[][] Rows { get; } = stream.ToFeatureVectors();

    public long[] Labels { get; } = stream.LabelArray();

    /// <summary>Marks rows as sent (their labels came back).</summary>
    public void Streamed(int offset, int count)
    {
        for (var i = offset; i < offset + count; i++)
        {
            streamed[i] = true;
        }
    }

    /// <summary>Every distinct labelled row streamed so far (the retrain reference trains on them).</summary>
    public ImageDataset Seen() => Stream.Select([.. Enumerable.Range(0, streamed.Length).Where(i => streamed[i]).Select(i => (long)i)]);

    public void Dispose()
    {
        Stream.Dispose();
        Unseen.Dispose();
    }

    /// <summary>
    /// The original regime and every regime of the sequence. Built-in regimes stream the test images that neither the
    /// gate's reference holdout nor the unseen set hold, each with its own seeded transform and starting point; a user's
    /// regime streams its files' rows but the last <see cref="SequenceRegime.UnseenRows"/>, which stay unseen.
    /// </summary>
    public static List<RegimeData> Load(FashionMnistSplits splits, SequenceOptions sequence, int cleanRows, int seed)
    {
        var test = splits.Test;
        var unseenStart = test.Count - 2000;
        var all = new List<RegimeData> { new("original", test.Slice(0, cleanRows), test.Slice(unseenStart, 2000)) };
        for (var k = 0; k < sequence.Regimes.Count; k++)
        {
            var regime = sequence.Regimes[k];
            if (regime.Scenario is { } scenario)
            {
                using var pool = test.Slice(cleanRows, unseenStart - cleanRows);
                // Each regime starts at a different image, so consecutive regimes do not replay the same images first.
                var start = (k * 1237) % pool.Count;
                using var order = pool.Select([.. Enumerable.Range(0, pool.Count).Select(i => (long)((i + start) % pool.Count))]);
                using var original = test.Slice(unseenStart, 2000);
                all.Add(new RegimeData(regime.Name, scenario.Apply(order, seed + 100 + k), scenario.Apply(original, seed + 200 + k)));
            }
            else
            {
                using var data = FashionMnist.LoadIdx(regime.ImagesPath!, regime.LabelsPath!);
                var unseen = SequenceRegime.UnseenRows(data.Count);
                all.Add(new RegimeData(regime.Name, data.Slice(0, data.Count - unseen), data.Slice(data.Count - unseen, unseen)));
            }
        }

        return all;
    }
}
