using Pipeline.DriftDetection;
using Pipeline.Hosting;

try
{
    return await PipelineHost.RunServiceAsync(args, new DriftDetectionModule());
}
catch (Microsoft.Extensions.Options.OptionsValidationException e)
{
    // Bad configuration (e.g. an unknown DriftDetection:Estimator): one line, no stack trace.
    await Console.Error.WriteLineAsync($"drift-detection: invalid configuration: {string.Join(" ", e.Failures)}");
    return 2;
}
