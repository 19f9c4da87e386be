using Pipeline.ML.Models;

namespace Pipeline.ML.Tests;

public sealed class ModelManifestTests
{
    private const string Valid = """
        { "name": "my-cnn", "format": "torchscript", "input_shape": [1, 28, 28], "input_scale": "unit",
          "classes": ["a", "b"], "embedding_method": "embed", "classifier_prefix": "classifier" }
        """;

    [Fact]
    public void A_valid_manifest_parses_with_its_fields()
    {
        var m = ModelManifest.Parse(Valid);
        Assert.Equal("my-cnn", m.Name);
        Assert.Equal([1, 28, 28], m.InputShape!);
        Assert.Equal("unit", m.Scale);
        Assert.Equal("embed", m.EmbeddingMethod);
        Assert.Equal(m.ToJson(), ModelManifest.Parse(m.ToJson()).ToJson());
        Assert.Equal("raw", ModelManifest.Parse(Valid.Replace("\"input_scale\": \"unit\",", "", StringComparison.Ordinal)).Scale);
    }

    [Theory]
    [InlineData("{}", "name is missing")]
    [InlineData("""{ "name": "x", "format": "onnx", "input_shape": [4], "classes": ["a","b"], "classifier_prefix": "fc" }""", "format 'onnx' is not supported")]
    [InlineData("""{ "name": "x", "format": "torchscript", "classes": ["a","b"], "classifier_prefix": "fc" }""", "input_shape is missing")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [0, 3], "classes": ["a","b"], "classifier_prefix": "fc" }""", "must have positive dimensions")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "classes": ["a"], "classifier_prefix": "fc" }""", "at least 2 classes")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "classes": ["a","a"], "classifier_prefix": "fc" }""", "classes has duplicates: a")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "classes": ["a","b"] }""", "classifier_prefix is missing")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "input_scale": "pixels", "classes": ["a","b"], "classifier_prefix": "fc" }""", "input_scale 'pixels'")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "classes": ["a","b"], "classifier_prefix": "fc", "embedding_method": "1x" }""", "embedding_method '1x' is not a method name")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [3], "classes": ["a","b"], "classifier_prefix": "fc", "features": [{"name":"a","kind":"numeric"},{"name":"b","kind":"categorical"}] }""", "input_shape must be [2], not [3]")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [2], "classes": ["a","b"], "classifier_prefix": "fc", "features": [{"name":"a","kind":"numeric"},{"name":"a","kind":"ordinal"}] }""", "kind 'ordinal' must be")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [4], "classes": ["a","b"], "classifier_prefix": "fc", "input_shap": [4] }""", "manifest: unknown field 'input_shap' (did you mean 'input_shape'?); valid fields: name, format, input_shape, input_scale, classes, embedding_method, classifier_prefix, features")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [1], "classes": ["a","b"], "clasifier_prefix": "fc" }""", "unknown field 'clasifier_prefix' (did you mean 'classifier_prefix'?)")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [1], "classes": ["a","b"], "classifier_prefix": "fc", "features": [{"name":"a","type":"numeric"}] }""", "features[0]: unknown field 'type'; valid fields: name, kind")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [2], "classes": ["a","b"], "classifier_prefix": "fc", "features": [{"name":"a","kind":"numeric","cardinality":3},{"name":"b","kind":"categorical"}] }""", "features[0] (a) cardinality 3 must be a number of categories from 1 to 16777216, on a categorical column only")]
    [InlineData("""{ "name": "x", "format": "torchscript", "input_shape": [2], "classes": ["a","b"], "classifier_prefix": "fc", "features": [{"name":"a","kind":"numeric"},{"name":"b","kind":"categorical","cardinality":0}] }""", "features[1] (b) cardinality 0")]
    [InlineData("[1, 2]", "not valid JSON for a manifest")]
    public void Each_problem_is_named(string json, string expected)
    {
        var ex = Assert.Throws<ModelValidationException>(() => ModelManifest.Parse(json));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_typo_names_the_field_and_the_valid_ones_never_a_dotnet_type()
    {
        var ex = Assert.Throws<ModelValidationException>(() => ModelManifest.Parse("""{ "nmae": "x", "format": "torchscript" }"""));
        Assert.DoesNotContain("Pipeline.ML", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".NET", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("manifest: unknown field 'nmae' (did you mean 'name'?)", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void All_problems_are_reported_at_once()
    {
        var ex = Assert.Throws<ModelValidationException>(() => ModelManifest.Parse("{}"));
        Assert.Equal(5, ex.Errors.Count);
    }
}
