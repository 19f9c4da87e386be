using Pipeline.ML.Benchmarks;
using Pipeline.ML.Models;
using Pipeline.ML.Strategies;
using Pipeline.ML.Tuning;
using TorchSharp;

namespace Pipeline.ML.Tests;

/// <summary>
/// What a strategy tells its listener after each optimizer step (<c>runs watch</c> prints it as "updated X %") is the
/// fraction of parameters that step really changed, the same measurement its statistics average.
/// </summary>
public sealed class StrategyProgressTests
{
    [Theory]
    [InlineData("ewc")]
    [InlineData("lora")]
    [InlineData("mist")]
    public void Each_step_reports_the_fraction_it_changed_on_a_users_tabular_model(string name)
    {
        using var model = ModelBundle.FromTorchScript(Path.Combine(PyTorchModels.Directory, "tabular.pt"),
            ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json")), torch.CPU);
        using var reference = TorchScriptModelTests.TabularRows("tabular-reference.csv", 128);
        using var shifted = TorchScriptModelTests.TabularRows("tabular-shifted.csv", 128);
        var steps = new List<TuningStep>();
        using var strategy = ContinualStrategies.Create(name, model.Info.Classes.Length);
        var context = new AdaptationContext
        {
            Seed = 3,
            Budget = new AdaptationBudget { Epochs = 3, BatchSize = 32 },
            BaseModel = model,
            Reference = reference,
            Device = "cpu",
            Progress = new SyncProgress<TuningStep>(steps.Add),
        };
        var (adapted, stats) = strategy.Adapt(model, shifted, context);
        using var owned = adapted;
        var training = steps.Where(s => s.Phase == name || (name == "mist" && s.Phase == "mi")).ToList();
        Assert.NotEmpty(training);
        Assert.True(stats.UpdatedFractionPerStep > 0, $"{name} changed nothing: {stats.UpdatedFractionPerStep}");
        Assert.All(training, s => Assert.True(s.UpdatedFraction is > 0 and <= 1, $"step {s.Step}: {s.UpdatedFraction}"));
        Assert.Equal(stats.UpdatedFractionPerStep, training.Average(s => s.UpdatedFraction), 9);
    }
}
