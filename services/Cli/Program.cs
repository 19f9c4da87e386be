using Microsoft.Extensions.Configuration;
using System.CommandLine;
using Pipeline.Cli.Commands;
using Spectre.Console;

// Piped or redirected, Spectre assumes 80 columns and wraps tables (a run id over 4 lines); a file or a pipe has no
// width, so tables keep their natural width there (COLUMNS still wins when set).
if (Console.IsOutputRedirected && !int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out _))
{
    AnsiConsole.Profile.Width = 400;
}

// The benches run libtorch in this process too: the same malloc tuning as the hosts (NativeHeap), so that
// a bench's bare forward is measured as a served one now runs (NativeHeap__Enabled=false turns it off here as there).
Pipeline.Hosting.NativeHeap.Configure(new ConfigurationBuilder().AddEnvironmentVariables().Build());

var root = new RootCommand("pipelinectl: operate the drift-adaptive model pipeline");

var bench = new Command("bench", "Benchmarks (fixed seeds; JSON with --out)");
bench.Subcommands.Add(BenchAdaptCommand.Create());
bench.Subcommands.Add(BenchDriftCommand.Create());
bench.Subcommands.Add(BenchDetectCommand.Create());
bench.Subcommands.Add(BenchContinualCommand.Create());
bench.Subcommands.Add(BenchLoadCommand.Create());
bench.Subcommands.Add(BenchPipelineCommand.Create());
root.Subcommands.Add(bench);

var drift = new Command("drift", "Drift statistics on tabular data");
drift.Subcommands.Add(DriftCompareCommand.Create());
root.Subcommands.Add(drift);

root.Subcommands.Add(RunsCommands.Create());
root.Subcommands.Add(ModelsCommands.Create());

foreach (var command in OperatorCommands.Create())
{
    root.Subcommands.Add(command);
}

return await Pipeline.Hosting.CommandLineRunner.RunAsync(root, args);
