using Pipeline.DriftDetection;
using Pipeline.Hosting;

return await PipelineHost.RunServiceAsync(args, new DriftDetectionModule());
