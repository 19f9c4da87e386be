using System.ComponentModel.DataAnnotations;
using Pipeline.DriftDetection;

namespace Pipeline.Integration.Tests;

/// <summary>DriftDetection:Estimator is checked at start: an unknown name is one line naming the valid ones.</summary>
public class DriftEstimatorOptionsTests
{
    private static List<ValidationResult> Validate(DriftDetectionOptions o)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(o, new ValidationContext(o), results, validateAllProperties: true);
        return results;
    }

    [Fact]
    public void An_unknown_estimator_fails_validation_in_one_line_and_known_ones_pass()
    {
        var bad = Assert.Single(Validate(new DriftDetectionOptions { Estimator = "magic" }));
        Assert.Equal("DriftDetection:Estimator 'magic' is not an accuracy estimator: use one of cbpe, atc, doc, iw, bbse, median.", bad.ErrorMessage);
        foreach (var name in new[] { "cbpe", "atc", "doc", "iw", "bbse", "median" })
        {
            Assert.Empty(Validate(new DriftDetectionOptions { Estimator = name }));
        }

        var options = new DriftDetectionOptions { Estimator = "atc", LabelsRequired = true }.ToMonitorOptions();
        Assert.Equal("atc", options.Trigger.Estimator);
        Assert.True(options.Trigger.LabelsRequired);
        Assert.Equal("median", new DriftDetectionOptions().Estimator);
    }
}
