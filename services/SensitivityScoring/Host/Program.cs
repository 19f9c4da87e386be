using Pipeline.Hosting;
using Pipeline.SensitivityScoring;

return await PipelineHost.RunServiceAsync(args, new SensitivityScoringModule());
