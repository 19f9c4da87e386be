using Pipeline.ML.Data;
using Pipeline.ML.Models;
using TorchSharp;
using static TorchSharp.torch.nn;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.ML.Sensitivity;

/// <summary>The mutual-information objective: supervised contrastive InfoNCE on two augmented views.</summary>
public static class MiObjective
{
    /// <summary>
    /// Supervised contrastive loss (Khosla et al.) over 2N L2-normalised projections <paramref name="z"/> with labels
    /// <paramref name="labels"/> (length 2N): for every anchor, positives are all other samples with the same label
    /// (including its other view); the loss averages −log softmax over positives, then over anchors.
    /// </summary>
    public static Tensor SupConLoss(Tensor z, Tensor labels, double temperature = 0.07)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(labels);
        var n = z.shape[0];
        var sim = z.matmul(z.t()) / temperature;
        var eye = torch.eye(n, dtype: ScalarType.Bool, device: z.device);
        var logits = sim.masked_fill(eye, -1e9);
        var logProb = logits - logits.logsumexp(1, keepdim: true);
        var pos = labels.unsqueeze(0).eq(labels.unsqueeze(1)).logical_and(eye.logical_not()).to(z.dtype);
        var posCount = pos.sum(1).clamp_min(1);
        var perAnchor = -(logProb.masked_fill(eye, 0) * pos).sum(1) / posCount;
        return perAnchor.mean();
    }

    /// <summary>
    /// A light augmentation for the two views, per sample, drawn from <paramref name="generator"/> (on the CPU, so
    /// results match across devices). Images [N, C, H, W]: random translation of up to ±2 pixels and Gaussian pixel
    /// noise (σ = 0.02). Other inputs (tabular rows): Gaussian noise of 0.1 × each column's standard deviation in the
    /// batch. Inputs on the unit scale are clamped back to [0, 1].
    /// </summary>
    public static Tensor Augment(Tensor images, Generator generator, bool unitScale = true)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(generator);
        var n = images.shape[0];
        Tensor moved;
        if (images.dim() == 4)
        {
            // Affine grids span [-1, 1] across the image, so one pixel is 2 / size.
            var shift = torch.rand(new long[] { n, 2 }, generator: generator) * 4 - 2;
            var theta = torch.zeros(n, 2, 3);
            theta[.., 0, 0] = torch.tensor(1f);
            theta[.., 1, 1] = torch.tensor(1f);
            theta[.., 0, 2] = shift[.., 0] * (2.0 / images.shape[3]);
            theta[.., 1, 2] = shift[.., 1] * (2.0 / images.shape[2]);
            var noise = torch.randn(images.shape, generator: generator) * 0.02;
            moved = DriftScenario.AffineSample(images, theta.to(images.device)) + noise.to(images.device);
        }
        else
        {
            var scale = n > 1 ? images.std(0, keepdim: true) : torch.ones_like(images);
            moved = images + torch.randn(images.shape, generator: generator).to(images.device) * scale * 0.1;
        }
        return unitScale ? moved.clamp(0, 1) : moved;
    }

    /// <summary>
    /// MI loss of a batch: two augmented views → <see cref="ClassifierNetwork.Embed"/> → projection head → L2-normalise
    /// → SupCon. The caller chooses the head (<see cref="ProjectionHead.For"/>) and the network's mode.
    /// </summary>
    public static Tensor Loss(ClassifierNetwork network, Module<Tensor, Tensor> projection, Tensor inputs, Tensor labels, Generator generator,
        double temperature = 0.07, bool unitScale = true)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(projection);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        var v1 = Augment(inputs, generator, unitScale);
        var v2 = Augment(inputs, generator, unitScale);
        var x = torch.cat([v1, v2], 0);
        var y = torch.cat([labels, labels], 0);
        var z = F.normalize(projection.forward(network.Embed(x).flatten(1)), p: 2, dim: 1);
        return SupConLoss(z, y, temperature);
    }
}
