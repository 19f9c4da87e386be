using Pipeline.Artifacts;
using Pipeline.Contracts;
using Pipeline.SensitivityScoring;

namespace Pipeline.ServiceLogic.Tests;

public class ArtifactFormatTests
{
    private static FeatureBlob Blob(int rows, int cols, bool labels)
    {
        var f = Enumerable.Range(0, rows * cols).Select(i => i * 0.5f).ToArray();
        return new FeatureBlob(rows, cols, f, labels ? Enumerable.Range(0, rows).ToArray() : null);
    }

    [Fact]
    public void Feature_blobs_round_trip_with_and_without_labels()
    {
        foreach (var labelled in new[] { true, false })
        {
            var blob = Blob(5, 3, labelled);
            var back = FeatureBlob.FromBytes(blob.ToBytes());
            Assert.Equal(blob.Rows, back.Rows);
            Assert.Equal(blob.Columns, back.Columns);
            Assert.Equal(blob.Features, back.Features);
            Assert.Equal(blob.Labels, back.Labels);
        }
    }

    [Fact]
    public void Truncated_or_foreign_bytes_are_refused_with_a_clear_error()
    {
        var bytes = Blob(4, 2, true).ToBytes();
        Assert.Throws<InvalidDataException>(() => FeatureBlob.FromBytes(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Throws<InvalidDataException>(() => FeatureBlob.FromBytes("not a blob at all"u8));
        Assert.Throws<ArgumentException>(() => new FeatureBlob(2, 3, new float[5]));
    }

    [Fact]
    public void Concat_and_split_keep_rows_and_labels_aligned()
    {
        var all = FeatureBlob.Concat([Blob(2, 3, true), Blob(3, 3, true)]);
        Assert.Equal(5, all.Rows);
        var (head, tail) = all.Split(2);
        Assert.Equal(2, head.Rows);
        Assert.Equal(3, tail.Rows);
        Assert.Equal(all.Row(2).ToArray(), tail.Row(0).ToArray());
        Assert.Equal(all.Labels![2], tail.Labels![0]);
    }

    [Fact]
    public void The_adaptation_split_is_seeded_disjoint_and_keeps_every_row_with_its_label()
    {
        var rows = Blob(100, 4, true);
        var (adapt, holdout) = AdaptationSetBuilder.Split(rows, 0.25, seed: 7);
        var again = AdaptationSetBuilder.Split(rows, 0.25, seed: 7);
        Assert.Equal(25, holdout.Rows);
        Assert.Equal(75, adapt.Rows);
        Assert.Equal(adapt.Features, again.Adaptation.Features);
        var labels = adapt.Labels!.Concat(holdout.Labels!).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 100).ToArray(), labels);
        for (var i = 0; i < adapt.Rows; i++)
        {
            // each row still carries its own label: row r holds values (r*cols + j) * 0.5
            Assert.Equal(adapt.Labels![i] * 4 * 0.5f, adapt.Row(i)[0]);
        }
    }

    [Fact]
    public void Replay_rows_make_up_the_requested_share_and_are_mixed_in()
    {
        var shifted = new FeatureBlob(70, 2, new float[140], Enumerable.Repeat(1, 70).ToArray());
        var original = new FeatureBlob(500, 2, Enumerable.Repeat(9f, 1000).ToArray(), Enumerable.Repeat(2, 500).ToArray());
        var mixed = AdaptationSetBuilder.WithReplay(shifted, original, 0.3, seed: 3);
        Assert.Equal(100, mixed.Rows);
        Assert.Equal(30, mixed.Labels!.Count(l => l == 2));
        Assert.Equal(70, mixed.Labels!.Count(l => l == 1));
        Assert.Contains(2, mixed.Labels![..50]); // shuffled, not appended at the end
        Assert.Same(shifted, AdaptationSetBuilder.WithReplay(shifted, original, 0, seed: 3));
    }

    [Fact]
    public void Version_metadata_round_trips_through_the_registry_json()
    {
        var meta = new VersionMetadata
        {
            ReferenceHoldout = new PayloadRef { Uri = "artifact://datasets/m/h.pfb", Sha256 = new string('a', 64), SizeBytes = 10 },
            RunId = Guid.NewGuid(), BaseVersion = 1, Strategy = "mist",
        };
        var back = VersionMetadata.Parse(meta.ToJson());
        Assert.Equal(meta, back);
        Assert.Equal(new VersionMetadata(), VersionMetadata.Parse(null));
    }
}
