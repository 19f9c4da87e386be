using Pipeline.ML.Benchmarks;

namespace Pipeline.ML.Tests;

/// <summary><c>bench continual</c> on a user's tabular model and CSV regimes, and the evidence rows it gives.</summary>
public sealed class ContinualTabularTests
{
    private static readonly ContinualBudget Tiny = new() { Name = "quick", Epochs = 1, BatchSize = 32, EvalSize = 300, ReferenceSize = 200 };

    private static ContinualBenchmarkOptions Options(params string[] methods) => new()
    {
        Sequence = [], Methods = methods, Labels = 100, Seed = 2, Device = "cpu", BudgetOverride = Tiny, ReplayFraction = 0.3,
        ModelPath = Path.Combine(PyTorchModels.Directory, "tabular.pt"), ManifestPath = Path.Combine(PyTorchModels.Directory, "tabular.json"),
        OriginalCsv = Path.Combine(PyTorchModels.Directory, "tabular-reference.csv"), LabelColumn = "label",
        CsvRegimes =
        [
            new CsvRegime("tabular-shifted", Path.Combine(PyTorchModels.Directory, "tabular-shifted.csv")),
            new CsvRegime("own-rows", Path.Combine(PyTorchModels.Directory, "tabular-reference.csv")),
        ],
        RetrainRecipe = (500, 2),
    };

    [Fact]
    public void A_csv_sequence_fills_the_matrix_with_the_services_replay_and_counts_retrain_from_the_recipe()
    {
        var r = ContinualBenchmark.Run(Options("head", "ridge"));

        Assert.Equal("csv", r.Dataset);
        Assert.Equal(["original", "tabular-shifted", "own-rows"], r.Sequence);
        Assert.Equal([300, 300, 300], r.EvalSizes);
        Assert.True(r.Base.Acc[1] < r.Base.Acc[0] - 0.1, $"the shift must hurt the base model: {string.Join(" / ", r.Base.Acc)}");
        var wanted = (int)Math.Round(100 * 0.3 / 0.7);
        Assert.Equal([wanted, wanted], r.ReplayRows ?? []);
        Assert.Equal((500 + 100) * 2 + (500 + 200) * 2, r.RetrainReferencePasses);
        foreach (var m in r.Results)
        {
            Assert.Equal(2, m.AccMatrix.Count);
            Assert.All(m.AccMatrix, row => Assert.Equal(3, row.Length));
            Assert.Equal(ContinualMetrics.Compute(m.AccMatrix, r.Base.Acc).AvgAcc, m.AvgAcc, 12);
        }
        // head trains on the 100 rows with their replay: one epoch of full batches (4 without the replay) per adaptation.
        Assert.Equal(2L * (long)Math.Ceiling((100 + wanted) / 32.0) * 32, r.Results.Single(m => m.Method == "head").SamplePasses);
        Assert.Contains("\"retrain_reference_passes\": 2600", r.ToJson(), StringComparison.Ordinal);

        // Only the tabular regime's shifts have a kind; retrain's cost is the recipe's.
        var table = StrategyEvidenceBuilder.Build([r], ["run.json"], "test");
        Assert.Equal(2, table.Rows.Count);
        Assert.All(table.Rows, row => Assert.Equal(("Tabular", "tabular-shifted"), (row.Kind, row.Regime)));
        var head = table.Rows.Single(x => x.Strategy == "head");
        Assert.Equal(Math.Round(r.Results.Single(m => m.Method == "head").SamplePasses / 2600.0, 4), head.PassesVsRetrain);
        Assert.Equal(Math.Round(r.Results.Single(m => m.Method == "head").AccMatrix[0][1] - r.Base.Acc[1], 4), head.Gain);
    }

    [Fact]
    public void Retrain_and_a_mix_with_image_scenarios_or_with_a_replay_buffer_are_refused()
    {
        Assert.Contains("leave out retrain", Assert.Throws<ArgumentException>(() => ContinualBenchmark.Run(Options("retrain"))).Message,
            StringComparison.Ordinal);
        Assert.Contains("do not mix", Assert.Throws<ArgumentException>(() => ContinualBenchmark.Run(Options("head") with { Sequence = ["rotate-30"] })).Message,
            StringComparison.Ordinal);
        Assert.Contains("exclude each other", Assert.Throws<ArgumentException>(() => ContinualBenchmark.Run(Options("head") with { Replay = 50 })).Message,
            StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ContinualBenchmark.Run(Options("head") with { LabelColumn = null }));
    }
}
