using Pipeline.Hosting;
using Pipeline.Inference;

var module = new InferenceModule();
var app = PipelineHost.CreateBuilder(args, module).Build();
app.MapPipelineEndpoints();
app.MapInferenceEndpoints();
app.MapGet("/", () => Results.Ok(new { service = module.Name }));
await app.RunAsync();
return 0;
