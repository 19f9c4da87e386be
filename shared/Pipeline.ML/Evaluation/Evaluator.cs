using System.Diagnostics;
using System.Text.Json.Serialization;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Evaluation;

/// <summary>Accuracy, per-class accuracy and expected calibration error on one dataset.</summary>
public sealed record EvaluationResult
{
    /// <summary>Top-1 accuracy in [0, 1].</summary>
    [JsonPropertyName("accuracy")]
    public double Accuracy { get; init; }

    /// <summary>Accuracy per class (NaN when a class has no samples).</summary>
    [JsonPropertyName("per_class_accuracy")]
    public double[] PerClassAccuracy { get; init; } = [];

    /// <summary>Expected calibration error (equal-width confidence bins).</summary>
    [JsonPropertyName("ece")]
    public double Ece { get; init; }

    /// <summary>Number of samples.</summary>
    [JsonPropertyName("count")]
    public int Count { get; init; }
}

/// <summary>Latency of one forward pass on a batch.</summary>
public sealed record LatencyResult(double MsPerBatch, int BatchSize, int Iterations, string Device);

/// <summary>Evaluation metrics.</summary>
public static class Evaluator
{
    /// <summary>Evaluates a model on a labelled dataset.</summary>
    public static EvaluationResult Evaluate(ModelBundle model, ImageDataset data, int bins = 15, int batchSize = 512)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        using var probs = model.PredictProbabilities(data.Images, batchSize);
        return FromProbabilities(probs, data.Labels, model.Info.Classes.Length, bins);
    }

    /// <summary>Metrics from probabilities [N, C] and labels [N].</summary>
    public static EvaluationResult FromProbabilities(Tensor probabilities, Tensor labels, int classes, int bins = 15)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = torch.NewDisposeScope();
        var (conf, pred) = probabilities.cpu().max(1);
        var confidences = conf.to(ScalarType.Float64).data<double>().ToArray();
        var predicted = pred.data<long>().ToArray();
        var truth = labels.cpu().data<long>().ToArray();
        return FromArrays(confidences, predicted, truth, classes, bins);
    }

    /// <summary>Metrics from per-sample confidence (max probability), predicted class and true class.</summary>
    public static EvaluationResult FromArrays(double[] confidence, long[] predicted, long[] truth, int classes, int bins = 15)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(truth);
        var n = truth.Length;
        if (confidence.Length != n || predicted.Length != n) throw new ArgumentException("arrays must have the same length");
        var correct = 0;
        var perTotal = new int[classes];
        var perCorrect = new int[classes];
        for (var i = 0; i < n; i++)
        {
            var ok = predicted[i] == truth[i];
            if (ok) correct++;
            perTotal[truth[i]]++;
            if (ok) perCorrect[truth[i]]++;
        }
        return new EvaluationResult
        {
            Accuracy = n == 0 ? 0 : (double)correct / n,
            PerClassAccuracy = Enumerable.Range(0, classes).Select(c => perTotal[c] == 0 ? double.NaN : (double)perCorrect[c] / perTotal[c]).ToArray(),
            Ece = ExpectedCalibrationError(confidence, predicted.Zip(truth, (p, t) => p == t).ToArray(), bins),
            Count = n,
        };
    }

    /// <summary>
    /// ECE = Σ_b (|B_b| / N) · |acc(B_b) − conf(B_b)| over <paramref name="bins"/> equal-width bins
    /// (0, 1/B], (1/B, 2/B], …, ((B−1)/B, 1]; a confidence of exactly 0 goes to the first bin.
    /// </summary>
    public static double ExpectedCalibrationError(double[] confidence, bool[] correct, int bins = 15)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        ArgumentNullException.ThrowIfNull(correct);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins));
        var n = confidence.Length;
        if (n == 0) return 0;
        var count = new int[bins];
        var sumConf = new double[bins];
        var sumAcc = new double[bins];
        for (var i = 0; i < n; i++)
        {
            var b = (int)Math.Ceiling(confidence[i] * bins) - 1;
            b = Math.Clamp(b, 0, bins - 1);
            count[b]++;
            sumConf[b] += confidence[i];
            sumAcc[b] += correct[i] ? 1 : 0;
        }
        double ece = 0;
        for (var b = 0; b < bins; b++)
        {
            if (count[b] == 0) continue;
            ece += (double)count[b] / n * Math.Abs(sumAcc[b] / count[b] - sumConf[b] / count[b]);
        }
        return ece;
    }

    /// <summary>Median wall-clock ms of a forward pass on a random batch, after warm-up.</summary>
    public static LatencyResult MeasureLatency(ModelBundle model, int batchSize = 64, int iterations = 20, int warmup = 3)
    {
        ArgumentNullException.ThrowIfNull(model);
        var device = model.Device;
        model.Model.SetTraining(false);
        using var noGrad = torch.no_grad();
        using var gen = new Generator(0);
        using var x = torch.rand(new long[] { batchSize }.Concat(model.Info.InputShape.Select(d => (long)d)).ToArray(), generator: gen).to(device);
        var times = new List<double>();
        for (var i = 0; i < warmup + iterations; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var y = model.Forward(x))
            {
                if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
                _ = y.shape;
            }
            sw.Stop();
            if (i >= warmup) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return new LatencyResult(times[times.Count / 2], batchSize, iterations, ComputeDevice.Describe(device));
    }
}
