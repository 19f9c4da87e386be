using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Artifacts;

namespace Pipeline.SparseTuning;

/// <summary>Warms libtorch before the tuner takes its first job (<see cref="LibtorchWarmUp"/>), at the job's batch size on its device.</summary>
public sealed class TunerWarmUp(IOptions<TuningServiceOptions> options, ILogger<TunerWarmUp> logger) : LibtorchWarmUp(logger)
{
    protected override (string Device, int Batch, int Seed) Plan => (options.Value.Device, options.Value.BatchSize, options.Value.Seed);
}
