using Pipeline.ML.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public sealed class EvaluatorTests
{
    [Fact]
    public void Ece_matches_a_hand_computed_case()
    {
        // 10 bins. Bin (0.9, 1.0]: confidences 0.95, 0.95, 0.95, 0.95 with 3 correct → |0.75 − 0.95| = 0.2, weight 4/6.
        // Bin (0.5, 0.6]: confidences 0.55, 0.55 with 2 correct → |1.0 − 0.55| = 0.45, weight 2/6.
        // ECE = 4/6 · 0.2 + 2/6 · 0.45 = 0.13333 + 0.15 = 0.28333…
        var conf = new[] { 0.95, 0.95, 0.95, 0.95, 0.55, 0.55 };
        var correct = new[] { true, true, true, false, true, true };
        Assert.Equal(4.0 / 6 * 0.2 + 2.0 / 6 * 0.45, Evaluator.ExpectedCalibrationError(conf, correct, 10), 12);
        // Perfect calibration: confidence 1 and always right.
        Assert.Equal(0, Evaluator.ExpectedCalibrationError([1.0, 1.0], [true, true], 15), 12);
        // Boundary: 0.6 belongs to (0.5, 0.6], not (0.6, 0.7].
        Assert.Equal(0.4, Evaluator.ExpectedCalibrationError([0.6], [true], 10), 12);
    }

    [Fact]
    public void Accuracy_and_per_class_accuracy_from_probabilities()
    {
        var probs = torch.tensor(new float[]
        {
            0.85f, 0.15f, 0f,
            0.2f, 0.72f, 0.08f,
            0.55f, 0.35f, 0.1f,
            0.02f, 0.03f, 0.95f,
        }, new long[] { 4, 3 });
        var labels = torch.tensor(new long[] { 0, 1, 1, 2 }, ScalarType.Int64);
        var r = Evaluator.FromProbabilities(probs, labels, 3, bins: 10);
        Assert.Equal(0.75, r.Accuracy, 12);
        Assert.Equal(new[] { 1.0, 0.5, 1.0 }, r.PerClassAccuracy);
        Assert.Equal(4, r.Count);
        // ECE by hand, one sample per bin (weight 1/4): 0.85 ok → 0.15; 0.72 ok → 0.28; 0.55 wrong → 0.55; 0.95 ok → 0.05.
        Assert.Equal(0.25 * (0.15 + 0.28 + 0.55 + 0.05), r.Ece, 5);
    }
}
