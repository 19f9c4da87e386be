using System.Diagnostics;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>
/// The controls for MIST: the backbone stays frozen and only a readout learns. <c>ridge</c> is RanPAC's
/// ridge readout over random features (what <c>mist-ridge</c> serves), <c>prototype</c> the class means (what
/// <c>mist</c> folds into its classifier). Their statistics accumulate over the reference data and every regime
/// exactly as MIST's do, so the difference between <c>mist-ridge</c> and <c>ridge</c> is what MIST's sparse
/// backbone update adds. Cost: one forward pass per labelled row (plus the reference rows on the first adaptation).
/// </summary>
public sealed class ReadoutStrategy : IContinualStrategy
{
    private readonly string readoutKind;
    private readonly int classes;
    private readonly int ridgeDim;
    private readonly double distillation;

    /// <summary>A frozen-backbone strategy with a "prototype" or "ridge" readout.</summary>
    public ReadoutStrategy(string name, string readoutKind, int classes, int ridgeDim = 1024, double distillation = ReadoutDefaults.Distillation)
    {
        if (readoutKind is not ("prototype" or "ridge")) throw new ArgumentException($"unknown readout '{readoutKind}' (prototype|ridge)", nameof(readoutKind));
        Name = name;
        this.readoutKind = readoutKind;
        this.classes = classes;
        this.ridgeDim = ridgeDim;
        this.distillation = distillation;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public (ModelBundle Model, AdaptationStats Stats) Adapt(ModelBundle current, ImageDataset labelled, AdaptationContext context, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(labelled);
        ArgumentNullException.ThrowIfNull(context);
        if (labelled.Count < 1) throw new ArgumentException("a readout needs at least 1 labelled sample", nameof(labelled));
        ct.ThrowIfCancellationRequested();
        var sw = Stopwatch.StartNew();
        long passes = 0;
        var model = current.Clone(ComputeDevice.Resolve(context.Device));
        try
        {
            var readout = ReadoutStart.Ensure(model, context.Reference, readoutKind, classes, ridgeDim, 0, distillation, ref passes);
            using (var emb = model.EmbedTensor(labelled.Images))
            using (var flat = emb.flatten(1))
                readout.Update(flat, labelled.Labels);
            passes += labelled.Count;
            var folded = readout is PrototypeReadout proto && MistStrategy.TryFoldInto(model, proto);
            model.AttachReadout(readout, serves: !folded);
            model.SetInfo(model.Info with { Adaptations = current.Info.Adaptations + 1, Notes = $"{Name}: frozen backbone, {readout.Kind} readout" });
            context.Progress?.Report(new Tuning.TuningStep(1, 1, "readout", double.NaN, 0));
            return (model, new AdaptationStats
            {
                TrainSeconds = sw.Elapsed.TotalSeconds,
                SamplePasses = passes,
                SelectedFraction = 0,
                UpdatedFractionPerStep = 0,
                OptimizerStateBytes = readout.StateBytes,
                Steps = 0,
                Detail = folded ? "readout folded into the classifier" : "readout serves",
            });
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public long[] Predict(ModelBundle model, Tensor images) => ParameterOps.PredictServed(model, images);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
