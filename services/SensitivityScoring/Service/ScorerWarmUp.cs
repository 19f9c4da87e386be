using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;

namespace Pipeline.SensitivityScoring;

/// <summary>Warms libtorch and the model-file path before the scorer takes its first job (<see cref="LibtorchWarmUp"/>).</summary>
public sealed class ScorerWarmUp(IOptions<ScoringServiceOptions> options, ILogger<ScorerWarmUp> logger) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, 64, options.Value.Seed);
}
