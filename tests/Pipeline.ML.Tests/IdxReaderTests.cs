using TorchSharp;
using Pipeline.ML.Data;

namespace Pipeline.ML.Tests;

public sealed class IdxReaderTests
{
    private static (byte[] Images, byte[] Labels) Sample(int n)
    {
        var images = new byte[n * 784];
        for (var i = 0; i < images.Length; i++) images[i] = (byte)((i * 7 + 3) % 256);
        var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
        return (images, labels);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Reads_gzip_and_raw_idx_files_into_scaled_tensors(bool gzip)
    {
        var dir = Synthetic.TempDir();
        var (images, labels) = Sample(5);
        var ip = Path.Combine(dir, "img.idx");
        var lp = Path.Combine(dir, "lab.idx");
        IdxReader.WriteBytes(ip, [5, 28, 28], images, gzip);
        IdxReader.WriteBytes(lp, [5], labels, gzip);

        var raw = IdxReader.Read(ip);
        Assert.Equal(new[] { 5, 28, 28 }, raw.Dimensions);
        Assert.Equal(images, raw.Bytes);

        using var ds = FashionMnist.LoadIdx(ip, lp);
        Assert.Equal(new long[] { 5, 1, 28, 28 }, ds.Images.shape);
        Assert.Equal(labels.Select(b => (long)b).ToArray(), ds.LabelArray());
        var px = ds.Images.reshape(-1).data<float>().ToArray();
        Assert.Equal(images[0] / 255f, px[0], 6);
        Assert.Equal(images[1000] / 255f, px[1000], 6);
        Assert.Equal(images[^1] / 255f, px[^1], 6);
    }

    [Fact]
    public void Accepts_flat_784_vectors_and_rejects_other_shapes()
    {
        var dir = Synthetic.TempDir();
        var (images, labels) = Sample(2);
        var ip = Path.Combine(dir, "flat");
        var lp = Path.Combine(dir, "lab");
        IdxReader.WriteBytes(ip, [2, 784], images, gzip: false);
        IdxReader.WriteBytes(lp, [2], labels, gzip: false);
        using var ds = FashionMnist.LoadIdx(ip, lp);
        Assert.Equal(new long[] { 2, 1, 28, 28 }, ds.Images.shape);
        var wrong = Path.Combine(dir, "wrong");
        IdxReader.WriteBytes(wrong, [2, 32, 32], new byte[2 * 32 * 32], gzip: false);
        Assert.Throws<InvalidDataException>(() => FashionMnist.LoadIdx(wrong, lp));
    }

    [Fact]
    public void Rejects_bad_magic_truncated_data_and_mismatched_labels()
    {
        var dir = Synthetic.TempDir();
        var bad = Path.Combine(dir, "bad");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5]);
        Assert.Throws<InvalidDataException>(() => IdxReader.Read(bad));

        var (images, labels) = Sample(3);
        var trunc = Path.Combine(dir, "trunc");
        IdxReader.WriteBytes(trunc, [4, 28, 28], images, gzip: false); // header says 4, data has 3
        Assert.Throws<InvalidDataException>(() => IdxReader.Read(trunc));

        var ip = Path.Combine(dir, "i");
        var lp = Path.Combine(dir, "l");
        IdxReader.WriteBytes(ip, [3, 28, 28], images, gzip: true);
        IdxReader.WriteBytes(lp, [2], labels[..2], gzip: true);
        Assert.Throws<InvalidDataException>(() => FashionMnist.LoadIdx(ip, lp));
    }

    [FashionMnistFact]
    public void Fashion_mnist_splits_are_disjoint_seeded_and_sized()
    {
        using var a = FashionMnist.LoadSplits(3);
        using var b = FashionMnist.LoadSplits(3);
        Assert.Equal(55000, a.Train.Count);
        Assert.Equal(5000, a.Validation.Count);
        Assert.Equal(8000, a.Test.Count);
        Assert.Equal(2000, a.ReferenceHoldout.Count);
        Assert.True(Synthetic.Same(a.Validation.Images, b.Validation.Images));
        var max = a.Train.Images.max().ToSingle();
        Assert.InRange(max, 0.99f, 1f);
    }
}
