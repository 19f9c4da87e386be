using Pipeline.EvaluationGate;
using Pipeline.Hosting;

return await PipelineHost.RunServiceAsync(args, new EvaluationGateModule());
