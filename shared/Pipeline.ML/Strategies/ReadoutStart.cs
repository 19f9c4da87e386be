using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Readout;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>Where every readout strategy (MIST's and the frozen-backbone controls) gets its readout.</summary>
internal static class ReadoutStart
{
    /// <summary>
    /// The readout of <paramref name="model"/> (cloned from the model it started from), or a new one whose first domain is
    /// <paramref name="reference"/> (the deployed model's own distribution) when the model has none of that kind.
    /// </summary>
    /// <remarks>
    /// A new ridge readout regresses the reference rows on <c>(1 − distillation) · one-hot label + distillation ·
    /// the model's own probabilities</c> (both from one pass), so its first domain starts from what the deployed
    /// model does on its own data rather than from a fit of a few thousand labels alone. Later regimes add plain labels.
    /// </remarks>
    internal static IReadout Ensure(ModelBundle model, ImageDataset reference, string kind, int classes, int ridgeDim, int seed, double distillation, ref long passes)
    {
        if (model.Readout is { } existing && existing.Kind == kind) return existing;
        if (!(distillation >= 0 && distillation <= 1)) throw new ArgumentOutOfRangeException(nameof(distillation), distillation, "the readout's distillation weight must be in [0, 1]");
        var (probs, flat) = model.Serve(reference.Images);
        IReadout readout;
        using (probs)
        using (flat)
        {
            if (kind == "prototype")
            {
                readout = new PrototypeReadout(classes, (int)flat.shape[1]);
                readout.Update(flat, reference.Labels);
            }
            else
            {
                var ridge = new RidgeReadout(classes, (int)flat.shape[1], ridgeDim, seed);
                using var scope = torch.NewDisposeScope();
                var onehot = torch.nn.functional.one_hot(reference.Labels.cpu().to(ScalarType.Int64), classes).to(ScalarType.Float64);
                // The model's own probabilities are only a teacher when its classifier serves (not a readout's cosines).
                var targets = distillation > 0 && !model.ServesReadout
                    ? onehot * (1 - distillation) + probs.to(ScalarType.Float64) * distillation
                    : onehot;
                ridge.UpdateTargets(flat, targets);
                readout = ridge;
            }
        }
        passes += reference.Count;
        model.AttachReadout(readout, serves: false);
        return readout;
    }
}
