using Pipeline.Deployment;
using Pipeline.Hosting;

return await PipelineHost.RunServiceAsync(args, new DeploymentModule());
