using Pipeline.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Strategies;

/// <summary>
/// The views and the loss of MIST's published code: a clean view plus one strong augmentation (random resized
/// crop of 30–100% of the area, aspect ratio 3/4–4/3, and a horizontal flip with probability ½; the code's
/// random grey-scale step has no meaning for grey-scale images), and the code's supervised NT-Xent.
/// </summary>
public static class MistObjective
{
    /// <summary>Smallest crop area fraction (the code's resize_scale lower bound).</summary>
    public const double MinCropScale = 0.3;

    /// <summary>
    /// Strong view: per sample a random resized crop (area in [0.3, 1], log-uniform aspect ratio in [3/4, 4/3]),
    /// resampled back to 28×28 with an affine grid, then a horizontal flip with probability ½. Random numbers come
    /// from <paramref name="generator"/> on the CPU so seeded runs match on every device.
    /// </summary>
    public static Tensor StrongView(Tensor images, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(generator);
        var n = images.shape[0];
        using var scope = torch.NewDisposeScope();
        var u = torch.rand(new long[] { n, 5 }, generator: generator).to(ScalarType.Float64);
        var area = MinCropScale + u[.., 0] * (1 - MinCropScale);
        var logR = Math.Log(3.0 / 4.0) + u[.., 1] * (Math.Log(4.0 / 3.0) - Math.Log(3.0 / 4.0));
        var ratio = logR.exp();
        var w = (area * ratio).sqrt().clamp_max(1.0);
        var h = (area / ratio).sqrt().clamp_max(1.0);
        // Centre offsets keep the crop inside the image: |offset| ≤ 1 − size in normalised coordinates.
        var cx = (u[.., 2] * 2 - 1) * (1 - w);
        var cy = (u[.., 3] * 2 - 1) * (1 - h);
        var flip = u[.., 4].lt(0.5).to(ScalarType.Float64) * -2 + 1;
        var theta = torch.zeros(new long[] { n, 2, 3 }, dtype: ScalarType.Float64);
        theta[.., 0, 0] = w * flip;
        theta[.., 1, 1] = h;
        theta[.., 0, 2] = cx;
        theta[.., 1, 2] = cy;
        var result = DriftScenario.AffineSample(images, theta.to(ScalarType.Float32).to(images.device));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The code's supervised NT-Xent over <c>z</c> = [clean views; strong views] (2B rows, L2-normalised) and the
    /// B labels: with L[i,j] = −log(exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ)), loss = mean_i L[i, partner(i)] +
    /// (1/B) Σ_i Σ_{j: y_j = y_i} L[i,j] / |{j: y_j = y_i}|. The code keeps i itself in the positive set with a
    /// constant −log(ε) value; that term has no gradient, so here it only counts in the normaliser.
    /// </summary>
    public static Tensor NtXent(Tensor z, Tensor labels, double temperature = 0.07)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(labels);
        var twoB = z.shape[0];
        if (twoB % 2 != 0 || labels.shape[0] * 2 != twoB) throw new ArgumentException("z must hold two views of every labelled sample");
        var b = twoB / 2;
        var sim = z.matmul(z.t()) / temperature;
        var eye = torch.eye(twoB, dtype: ScalarType.Bool, device: z.device);
        var logits = sim.masked_fill(eye, double.NegativeInfinity);
        var nll = -(logits - logits.logsumexp(1, keepdim: true));
        nll = nll.masked_fill(eye, 0);
        var idx = torch.arange(twoB, device: z.device);
        var partner = (idx + b).remainder(twoB);
        var pairTerm = nll.gather(1, partner.unsqueeze(1)).mean();
        var y = torch.cat([labels, labels], 0);
        var same = y.unsqueeze(0).eq(y.unsqueeze(1)).to(z.dtype);
        var weights = same / same.sum(1, keepdim: true);
        var supTerm = (weights * nll).sum() / b;
        return pairTerm + supTerm;
    }

    /// <summary>
    /// Loss of a batch: projections of [clean; strong view] through the network's embedding and the projection head.
    /// Inputs that are not images (a user's tabular model) get the library's tabular noise view instead of a crop.
    /// </summary>
    public static Tensor Loss(Models.ClassifierNetwork network, torch.nn.Module<Tensor, Tensor> projection, Tensor inputs, Tensor labels,
        Generator generator, double temperature = 0.07, bool unitScale = true)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(projection);
        ArgumentNullException.ThrowIfNull(inputs);
        var strong = inputs.dim() == 4 ? StrongView(inputs, generator) : Sensitivity.MiObjective.Augment(inputs, generator, unitScale);
        var x = torch.cat([inputs, strong], 0);
        var z = torch.nn.functional.normalize(projection.forward(network.Embed(x).flatten(1)), p: 2, dim: 1);
        return NtXent(z, labels, temperature);
    }
}
