using Pipeline.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public sealed class DriftScenarioTests
{
    [Theory]
    [InlineData("rotate-30", "rotate", 30)]
    [InlineData("rotate", "rotate", 30)]
    [InlineData("noise-0.3", "noise", 0.3)]
    [InlineData("noise", "noise", 0.3)]
    [InlineData("Contrast", "contrast", 0.3)]
    [InlineData("brightness-0.5", "brightness", 0.5)]
    [InlineData("blur", "blur", 1.5)]
    [InlineData("invert", "invert", 0)]
    [InlineData("prior-shift", "prior-shift", 0.1)]
    [InlineData("prior-shift-0.25", "prior-shift", 0.25)]
    public void Parses_names(string name, string kind, double parameter)
    {
        var s = DriftScenario.Parse(name);
        Assert.Equal(kind, s.Kind);
        Assert.Equal(parameter, s.Parameter, 9);
    }

    [Theory]
    [InlineData("spin-30")]
    [InlineData("rotate-x")]
    [InlineData("noise--1")]
    [InlineData("invert-2")]
    [InlineData("prior-shift-0")]
    public void Rejects_unknown_or_invalid_names(string name) => Assert.Throws<FormatException>(() => DriftScenario.Parse(name));

    [Theory]
    [InlineData("rotate-30")]
    [InlineData("noise")]
    [InlineData("brightness")]
    [InlineData("contrast")]
    [InlineData("blur")]
    [InlineData("invert")]
    public void Transforms_keep_shape_range_and_labels_and_are_deterministic(string name)
    {
        using var data = Synthetic.Dataset(40, 1);
        var s = DriftScenario.Parse(name);
        using var a = s.Apply(data, 5);
        using var b = s.Apply(data, 5);
        Assert.Equal(data.Images.shape, a.Images.shape);
        Assert.True(Synthetic.Same(a.Images, b.Images), "same seed must give identical output");
        Assert.True(Synthetic.Same(a.Labels, data.Labels));
        Assert.True(a.Images.min().ToSingle() >= 0f && a.Images.max().ToSingle() <= 1f);
        Assert.False(Synthetic.Same(a.Images, data.Images), "the shift must change the images");
    }

    [Fact]
    public void Noise_depends_on_the_seed_and_has_the_requested_sigma()
    {
        using var gray = new ImageDataset(torch.full(new long[] { 20, 1, 28, 28 }, 0.5f), torch.zeros(20, ScalarType.Int64));
        var s = DriftScenario.Parse("noise-0.1");
        using var a = s.Apply(gray, 1);
        using var b = s.Apply(gray, 2);
        Assert.False(Synthetic.Same(a.Images, b.Images));
        var std = (a.Images - 0.5).std().ToDouble();
        Assert.InRange(std, 0.095, 0.105);
    }

    [Fact]
    public void Rotation_by_90_degrees_moves_a_pixel_to_the_expected_place_and_0_is_identity()
    {
        var img = torch.zeros(1, 1, 28, 28);
        img[0, 0, 4, 20] = torch.tensor(1f); // row 4 (top), column 20 (right)
        using var r0 = DriftScenario.Rotate(img, 0);
        Assert.True(r0.allclose(img, atol: 1e-6));
        using var r90 = DriftScenario.Rotate(img, 90);
        var flat = r90.reshape(-1).argmax().ToInt64();
        var (row, col) = (flat / 28, flat % 28);
        // Counter-clockwise by 90° on screen maps (row, col) → (27 − col, row).
        Assert.Equal((27 - 20L, 4L), (row, col));
        Assert.True(r90.max().ToSingle() > 0.99f);
    }

    [Fact]
    public void Invert_and_prior_shift_do_what_they_say()
    {
        using var data = Synthetic.Dataset(200, 2);
        using var inv = DriftScenario.Parse("invert").Apply(data, 0);
        Assert.True(inv.Images.allclose(1 - data.Images));

        using var shifted = DriftScenario.Parse("prior-shift-0.2").Apply(data, 3);
        var labels = shifted.LabelArray();
        Assert.Equal(100, labels.Count(l => l < 5));
        Assert.InRange(labels.Count(l => l >= 5), 5, 40);
        using var again = DriftScenario.Parse("prior-shift-0.2").Apply(data, 3);
        Assert.Equal(labels, again.LabelArray());
    }
}
