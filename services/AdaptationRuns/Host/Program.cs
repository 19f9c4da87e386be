using Pipeline.AdaptationRuns;
using Pipeline.Hosting;

return await PipelineHost.RunServiceAsync(args, new AdaptationRunsModule());
