using System.CommandLine;
using Pipeline.Standalone.Demo;
using Spectre.Console;

var root = new RootCommand("The whole pipeline in one process (in-memory transport, SQLite, local artifacts)");

var scenario = new Option<string>("--scenario") { Description = "Drift injected midway: rotate-30, noise, contrast, brightness, blur, invert, prior-shift", DefaultValueFactory = _ => "rotate-30" };
var output = new Option<string?>("--out") { Description = "Write the demo JSON here" };
var seed = new Option<int>("--seed") { Description = "Seed for data splits, base model and drift", DefaultValueFactory = _ => 1 };
var dataDir = new Option<string?>("--data") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
var workDir = new Option<string>("--work-dir") { Description = "Where this run's database and artifacts go (fresh per run)", DefaultValueFactory = _ => Path.Combine(".pipeline", "demo", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)) };

var demo = new Command("demo", "Run the adaptation loop end to end and print a summary") { scenario, output, seed, dataDir, workDir };
demo.SetAction(async (r, ct) =>
{
    var work = Path.GetFullPath(r.GetValue(workDir)!);
    Directory.CreateDirectory(work);
    var settings = new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Sqlite",
        ["Storage:ConnectionString"] = $"Data Source={Path.Combine(work, "pipeline.db")}",
        ["Storage:ArtifactRoot"] = Path.Combine(work, "artifacts"),
    };
    var options = new DemoOptions
    {
        Scenario = r.GetValue(scenario)!, Seed = r.GetValue(seed), Out = r.GetValue(output),
        DataDirectory = r.GetValue(dataDir) ?? Environment.GetEnvironmentVariable("PIPELINE_DATA_DIR"),
    };
    var runner = new DemoRunner(options, AnsiConsole.Console);
    return await runner.RunAsync(async (events, token) => await StandaloneEnvironment.StartAsync([], settings, events, token), ct);
});
root.Subcommands.Add(demo);

return await root.Parse(args).InvokeAsync();
