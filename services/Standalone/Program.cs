using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Pipeline.Standalone.Demo;
using Spectre.Console;

var root = new RootCommand("The whole pipeline in one process (in-memory transport, SQLite, local artifacts)");

var scenario = new Option<string>("--scenario") { Description = "Drift injected midway: rotate-30, noise, contrast, brightness, blur, invert, prior-shift", DefaultValueFactory = _ => "rotate-30" };
scenario.Validators.Add(r =>
{
    if (r.GetValueOrDefault<string>() is { } name && !Pipeline.ML.Data.DriftScenario.TryParse(name, out _))
    {
        r.AddError($"unknown scenario '{name}': use rotate-DEG, noise-SIGMA, contrast-F, brightness-D, blur-SIGMA, invert or prior-shift");
    }
});
var output = new Option<string?>("--out") { Description = "Write the demo JSON here" };
var seed = new Option<int>("--seed") { Description = "Seed for data splits, base model and drift", DefaultValueFactory = _ => 1 };
var dataDir = new Option<string?>("--data") { Description = "Fashion-MNIST directory (default $PIPELINE_DATA_DIR or /usr/share/datasets/fashion-mnist)" };
var workDir = new Option<string?>("--work-dir") { Description = "Where this run's database, artifacts and logs go (default: a fresh .pipeline/demo/<time>)" };
var distributed = new Option<bool>("--distributed") { Description = "Run each service as its own process on RabbitMQ ($PIPELINE_DEMO_AMQP, default amqp://guest:guest@127.0.0.1:5672/pipeline-demo)" };

var sequence = new Option<string?>("--sequence")
{
    Description = "Run the continual demo instead: these regimes follow the original one in a single production stream, e.g. rotate-15,rotate-30,noise-0.3,contrast-0.3",
};
var regime = new Option<string[]>("--regime")
{
    Description = "Define a regime of --sequence from your files: NAME=IMAGES.idx.gz:LABELS.idx.gz (repeatable)", AllowMultipleArgumentsPerToken = false,
};

var demo = new Command("demo", "Run the adaptation loop end to end and print a summary") { scenario, output, seed, dataDir, workDir, distributed, sequence, regime };
demo.SetAction(async (r, ct) =>
{
    // The continual demo's input is checked before anything starts (no work directory, no services).
    var appConfig = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json").Build();
    SequenceOptions? continual = null;
    if (r.GetValue(sequence) is { } names)
    {
        if (r.GetResult(scenario) is { Implicit: false })
        {
            throw new Pipeline.Hosting.UserErrorException("use --scenario (one drift) or --sequence (drift after drift), not both");
        }

        continual = SequenceOptions.Parse(names, r.GetValue(regime) ?? [], appConfig);
    }
    else if (r.GetValue(regime) is { Length: > 0 })
    {
        throw new Pipeline.Hosting.UserErrorException("--regime defines a regime of --sequence: add --sequence");
    }

    var work = Path.GetFullPath(r.GetValue(workDir)
        ?? Path.Combine(".pipeline", "demo", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
    Directory.CreateDirectory(work);
    var database = Path.Combine(work, "pipeline.db");
    var storage = new Dictionary<string, string?>
    {
        ["Storage:Provider"] = "Sqlite",
        ["Storage:ConnectionString"] = $"Data Source={database}",
        ["Storage:ArtifactRoot"] = Path.Combine(work, "artifacts"),
    };
    // The demo is a client of the inference API like any other, with a key made for this run only.
    var apiKey = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
    storage["Inference:Auth:ApiKeys:demo"] = apiKey;
    var options = new DemoOptions
    {
        Scenario = r.GetValue(scenario)!, Seed = r.GetValue(seed), Out = r.GetValue(output), DatabaseFile = database,
        DataDirectory = r.GetValue(dataDir) ?? Environment.GetEnvironmentVariable("PIPELINE_DATA_DIR"),
        ApiKey = apiKey,
    };
    if (continual is not null)
    {
        // Regimes follow one another within minutes: the cooldown after a run (30 min by default, a production
        // setting against back-to-back runs) is shortened so the next regime can be adapted to (docs/ml.md).
        storage["DriftDetection:Cooldown"] = SequenceOptions.DemoCooldown;
    }

    Func<Func<DemoEvents, CancellationToken, Task<IDemoEnvironment>>, CancellationToken, Task<int>> run = continual is null
        ? new DemoRunner(options, AnsiConsole.Console).RunAsync
        : new SequenceRunner(options, continual, AnsiConsole.Console).RunAsync;
    if (!r.GetValue(distributed))
    {
        return await run(async (events, token) => await StandaloneEnvironment.StartAsync([], storage, events, token), ct);
    }

    var broker = new Uri(Environment.GetEnvironmentVariable("PIPELINE_DEMO_AMQP") is { Length: > 0 } u ? u : "amqp://guest:guest@127.0.0.1:5672/pipeline-demo");
    return await run(async (events, token) => await DistributedEnvironment.StartAsync(appConfig, storage, broker, work, events, token), ct);
});
root.Subcommands.Add(demo);

return await Pipeline.Hosting.CommandLineRunner.RunAsync(root, args);
