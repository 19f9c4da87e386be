using Pipeline.Drift.Monitoring;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// The tabular half of <c>bench detect</c>: generated rows (3 classes; 6 numeric features whose means depend
/// on the class; 1 categorical feature of 4 categories whose mix depends on the class) and a small MLP
/// trained long on few rows without regularisation, so it is over-confident (its top-class probability
/// overstates its accuracy). Everything is seeded; the MLP trains on one thread.
/// </summary>
internal sealed class TabularWorld
{
    public const int Numeric = 6;
    public const int Categories = 4;
    public const int Width = Numeric + 1;
    private const int Classes = 3;
    private static readonly double[][] Means = [[1, 0, 0, 0.5, 0, 0], [0, 1, 0, 0, 0.5, 0], [0, 0, 1, 0, 0, 0.5]];
    private static readonly double[][] CategoryMix = [[0.55, 0.25, 0.15, 0.05], [0.15, 0.5, 0.25, 0.1], [0.1, 0.15, 0.3, 0.45]];

    /// <summary>Generated rows: features (6 numeric + the category code) and labels.</summary>
    public sealed record Rows(float[][] Features, int[] Labels);

    public static Rows Generate(int n, Random rng)
    {
        var f = new float[n][];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = rng.Next(Classes);
            var row = new float[Width];
            for (int j = 0; j < Numeric; j++) row[j] = (float)(Means[c][j] * 1.2 + Normal(rng));
            double u = rng.NextDouble(), acc = 0;
            int cat = Categories - 1;
            for (int k = 0; k < Categories; k++)
            {
                acc += CategoryMix[c][k];
                if (u < acc)
                {
                    cat = k;
                    break;
                }
            }
            row[Numeric] = cat;
            f[i] = row;
            y[i] = c;
        }
        return new Rows(f, y);
    }

    /// <summary>The named shift applied to clean rows (labels stay with their rows).</summary>
    public static Rows Shift(Rows clean, string name, Random rng)
    {
        switch (name)
        {
            case "tabular-mean-2":
                return new Rows(clean.Features.Select(r => Map(r, (j, v) => j < 3 ? v + 2f : v)).ToArray(), clean.Labels);
            case "tabular-scale-3":
                return new Rows(clean.Features.Select(r => Map(r, (j, v) => j < 3 ? 3f * v : v)).ToArray(), clean.Labels);
            case "tabular-mean-0.2":
                return new Rows(clean.Features.Select(r => Map(r, (j, v) => j < Numeric ? v + 0.2f : v)).ToArray(), clean.Labels);
            case "tabular-category-mix":
            {
                // Covariate shift in the categorical column: rows of category 3 four times as likely, category 0 a quarter.
                double[] keep = [0.25, 1, 1, 1];
                var f = new List<float[]>();
                var y = new List<int>();
                for (int i = 0; i < clean.Labels.Length; i++)
                {
                    int cat = (int)clean.Features[i][Numeric];
                    int copies = cat == 3 ? 4 : 1;
                    for (int c = 0; c < copies; c++)
                    {
                        if (rng.NextDouble() < keep[cat])
                        {
                            f.Add(clean.Features[i]);
                            y.Add(clean.Labels[i]);
                        }
                    }
                }
                return new Rows([.. f], [.. y]);
            }
            default:
                throw new ArgumentException($"unknown tabular shift '{name}' (tabular-mean-2, tabular-mean-0.2, tabular-scale-3, tabular-category-mix)");
        }
    }

    /// <summary>
    /// One seed's tabular world as a <see cref="SeedRun"/>: the MLP trained 300 full-batch epochs on 1500 rows,
    /// a drift reference of 3000 rows, a labelled holdout of 2000 rows and a clean pool of 20000 rows.
    /// </summary>
    public static SeedRun CreateRun(int seed, DetectBenchmarkOptions o, Action<string>? log)
    {
        var rng = new Random(seed * 4099 + 11);
        var train = Generate(1500, rng);
        var reference = Generate(3000, rng);
        var holdout = Generate(2000, rng);
        var clean = Generate(20000, rng);
        var mlp = TabularMlp.Train(train, seed);
        if (o.Witness is not null) mlp.Witness = TabularMlp.Train(train, seed + SeedRun.WitnessSeedOffset);
        var names = Enumerable.Range(0, Numeric).Select(j => $"x{j}").Append("category").ToList();
        var profile = ReferenceProfile.Build("tabular", 1, mlp.Pool(reference).Rows,
            new ProfileOptions { Summary = InputSummary.RawColumns(Width, names), CategoricalFeatures = new HashSet<int> { Numeric }, Seed = 1 });
        var run = new SeedRun(seed, o, null, null, profile, mlp.Pool(clean), mlp.Pool(holdout), log, mlp);
        log?.Invoke($"seed {seed}: tabular MLP trained");
        return run;
    }

    public static readonly IReadOnlyList<string> Shifts = ["tabular-mean-0.2", "tabular-mean-2", "tabular-scale-3", "tabular-category-mix"];

    private static float[] Map(float[] row, Func<int, float, float> f)
    {
        var o = new float[row.Length];
        for (int j = 0; j < row.Length; j++) o[j] = f(j, row[j]);
        return o;
    }

    private static double Normal(Random r) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}

/// <summary>An over-confident MLP (2 × 64 ReLU) on the tabular rows (numeric + one-hot category).</summary>
internal sealed class TabularMlp : IDisposable
{
    private readonly Sequential _net;

    /// <summary>A second MLP trained the same way with another seed (the agreement estimators' witness).</summary>
    public TabularMlp? Witness { get; set; }

    private TabularMlp(Sequential net) => _net = net;

    public static TabularMlp Train(TabularWorld.Rows data, int seed, int epochs = 300)
    {
        torch.set_num_threads(1);
        torch.manual_seed(seed);
        var net = Sequential(
            ("fc1", Linear(TabularWorld.Numeric + TabularWorld.Categories, 64)), ("relu1", ReLU()),
            ("fc2", Linear(64, 64)), ("relu2", ReLU()), ("out", Linear(64, 3)));
        using var x = Inputs(data.Features);
        using var y = torch.tensor(data.Labels.Select(v => (long)v).ToArray());
        using var opt = torch.optim.Adam(net.parameters(), 0.01);
        using var loss = CrossEntropyLoss();
        net.train();
        for (int e = 0; e < epochs; e++)
        {
            opt.zero_grad();
            using var l = loss.forward(net.forward(x), y);
            l.backward();
            opt.step();
        }
        net.eval();
        return new TabularMlp(net);
    }

    /// <summary>Class probabilities per row.</summary>
    public float[][] Probabilities(float[][] features)
    {
        using var _ = torch.no_grad();
        using var x = Inputs(features);
        using var p = torch.nn.functional.softmax(_net.forward(x), 1);
        var flat = p.data<float>().ToArray();
        var rows = new float[features.Length][];
        for (int i = 0; i < rows.Length; i++) rows[i] = flat.AsSpan(i * 3, 3).ToArray();
        return rows;
    }

    private static Tensor Inputs(float[][] features)
    {
        int w = TabularWorld.Numeric + TabularWorld.Categories;
        var flat = new float[features.Length * w];
        for (int i = 0; i < features.Length; i++)
        {
            var r = features[i];
            for (int j = 0; j < TabularWorld.Numeric; j++) flat[i * w + j] = r[j];
            int cat = Math.Clamp((int)r[TabularWorld.Numeric], 0, TabularWorld.Categories - 1);
            flat[i * w + TabularWorld.Numeric + cat] = 1;
        }
        return torch.tensor(flat, [features.Length, w]);
    }

    public void Dispose()
    {
        _net.Dispose();
        Witness?.Dispose();
    }

    private static int ArgMax(float[] p) => p[0] >= p[1] && p[0] >= p[2] ? 0 : p[1] >= p[2] ? 1 : 2;

    /// <summary>Rows as monitor observations with the model's outputs (labels kept aside).</summary>
    public DetectBenchmark.Pool Pool(TabularWorld.Rows rows)
    {
        var probs = Probabilities(rows.Features);
        var obs = new Observation[rows.Features.Length];
        var correct = new bool[obs.Length];
        var scores = new double[obs.Length];
        for (int i = 0; i < obs.Length; i++)
        {
            var p = probs[i];
            int cls = ArgMax(p);
            obs[i] = new Observation(rows.Features[i], cls, p[cls]);
            correct[i] = cls == rows.Labels[i];
            scores[i] = Drift.Performance.AtcThreshold.NegativeEntropy(p);
        }
        int[]? witness = Witness?.Probabilities(rows.Features).Select(ArgMax).ToArray();
        return new DetectBenchmark.Pool { Rows = obs, Correct = correct, NegativeEntropy = scores, Labels = rows.Labels, Witness = witness };
    }
}
