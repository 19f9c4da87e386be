using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using Pipeline.ML.Strategies;
using Pipeline.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Tests;

public class ReadoutDistillationTests
{
    [Fact]
    public void A_distilled_ridge_readout_starts_from_the_deployed_models_predictions_not_from_the_reference_labels_alone()
    {
        using var train = Synthetic.Dataset(400, 1);
        using var deployed = BaseTrainer.Train(train, new BaseTrainingOptions { Epochs = 3, BatchSize = 32, Seed = 4, Device = "cpu" });
        using var clean = Synthetic.Dataset(300, 2);
        // Reference labels that contradict what the model learned: a readout fitted to them alone follows them.
        var rng = new Random(7);
        using var scrambled = new ImageDataset(clean.Images.clone(), torch.tensor(Enumerable.Range(0, 300).Select(_ => (long)rng.Next(10)).ToArray()));
        using var few = Synthetic.Dataset(4, 3);
        using var test = Synthetic.Dataset(200, 9);
        var expected = ParameterOps.PredictServed(deployed, test.Images);
        Assert.True(expected.Distinct().Count() >= 8, "the deployed model predicts most classes");

        double Agreement(double distillation)
        {
            using var strategy = new ReadoutStrategy("ridge", "ridge", 10, ridgeDim: 256, distillation: distillation);
            var context = new AdaptationContext
            {
                Seed = 1, Budget = new AdaptationBudget { Epochs = 1, BatchSize = 16 }, BaseModel = deployed, Reference = scrambled, Device = "cpu", Index = 0,
            };
            var (adapted, _) = strategy.Adapt(deployed, few, context);
            using (adapted)
            {
                Assert.True(adapted.ServesReadout);
                var got = strategy.Predict(adapted, test.Images);
                return got.Zip(expected).Count(p => p.First == p.Second) / (double)expected.Length;
            }
        }

        var labelsOnly = Agreement(0);
        var distilled = Agreement(1);
        Assert.True(distilled >= 0.8, $"distilled readout agrees with the deployed model on {distilled:P0} of the rows");
        Assert.True(labelsOnly <= 0.5, $"labels-only readout agrees on {labelsOnly:P0} (it should follow the scrambled labels)");
    }

    [Fact]
    public void Ridge_targets_of_the_wrong_shape_and_a_distillation_weight_outside_0_to_1_are_refused()
    {
        using var ridge = new RidgeReadout(3, 4, 8, 1);
        using var e = torch.randn(5, 4);
        using var wrong = torch.zeros(5, 2);
        Assert.Throws<ArgumentException>(() => ridge.UpdateTargets(e, wrong));
        using var model = ModelBundle.Create("cnn-small", 1);
        using var reference = Synthetic.Dataset(20, 1);
        using var few = Synthetic.Dataset(4, 2);
        using var strategy = new ReadoutStrategy("ridge", "ridge", 10, ridgeDim: 16, distillation: 1.5);
        var context = new AdaptationContext
        {
            Seed = 1, Budget = new AdaptationBudget { Epochs = 1, BatchSize = 16 }, BaseModel = model, Reference = reference, Device = "cpu", Index = 0,
        };
        Assert.Throws<ArgumentOutOfRangeException>(() => strategy.Adapt(model, few, context));
    }
}
