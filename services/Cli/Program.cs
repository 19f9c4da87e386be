using System.CommandLine;
using Pipeline.Cli.Commands;

var root = new RootCommand("pipelinectl: operate the drift-adaptive model pipeline");
foreach (var command in OperatorCommands.Create())
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();
