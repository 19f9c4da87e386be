using Pipeline.Drift.Monitoring;
using Pipeline.DriftDetection;
using Pipeline.ML.Models;

namespace Pipeline.Integration.Tests;

/// <summary>What the drift monitor tests for each kind of model (no broker needed).</summary>
public sealed class DriftProfileOptionsTests
{
    [Fact]
    public void One_channel_images_are_pooled_and_tabular_models_keep_their_named_columns_and_kinds()
    {
        var image = ReferenceProfileStore.ProfileOptionsFor(new ModelInfo { Architecture = "torchscript", InputShape = [1, 28, 28], Classes = ["a", "b"] }, 1);
        Assert.Equal(InputSummaryKind.ImagePooled, image.Summary!.Kind);
        Assert.Equal((28, 28, 7), (image.Summary.ImageHeight, image.Summary.ImageWidth, image.Summary.Grid));

        var small = ReferenceProfileStore.ProfileOptionsFor(new ModelInfo { Architecture = "torchscript", InputShape = [1, 5, 4], Classes = ["a", "b"] }, 1);
        Assert.Equal(4, small.Summary!.Grid);

        var tabular = ReferenceProfileStore.ProfileOptionsFor(new ModelInfo
        {
            Architecture = "torchscript", InputShape = [3], Classes = ["a", "b"],
            Features = [new() { Name = "age", Kind = "numeric" }, new() { Name = "plan", Kind = "categorical" }, new() { Name = "spend", Kind = "numeric" }],
        }, 1);
        Assert.Equal(InputSummaryKind.Raw, tabular.Summary!.Kind);
        Assert.Equal(["age", "plan", "spend"], tabular.Summary.FeatureNames!);
        Assert.Equal([1], tabular.CategoricalFeatures.Order());

        var colour = ReferenceProfileStore.ProfileOptionsFor(new ModelInfo { Architecture = "torchscript", InputShape = [3, 8, 8], Classes = ["a", "b"] }, 1);
        Assert.Equal(InputSummaryKind.Raw, colour.Summary!.Kind);
        Assert.Equal(192, colour.Summary.InputWidth);
    }
}
