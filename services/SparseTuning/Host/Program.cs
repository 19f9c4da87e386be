using Pipeline.Hosting;
using Pipeline.SparseTuning;

return await PipelineHost.RunServiceAsync(args, new SparseTuningModule());
