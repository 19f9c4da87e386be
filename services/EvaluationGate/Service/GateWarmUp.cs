using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;

namespace Pipeline.EvaluationGate;

/// <summary>Warms libtorch and the model-file path before the gate evaluates its first candidate (<see cref="LibtorchWarmUp"/>).</summary>
public sealed class GateWarmUp(IOptions<GateOptions> options, ILogger<GateWarmUp> logger) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, options.Value.LatencyBatchSize, 1);
}
