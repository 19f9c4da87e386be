using System.CommandLine;
using System.Diagnostics;
using Pipeline.Hosting;

namespace Pipeline.Packaging.Tests;

/// <summary>A user's mistake on the command line is one line and a non-zero exit, never a stack trace.</summary>
public class CommandLineTests
{
    [Fact]
    public async Task A_missing_file_is_one_line_and_exit_code_2()
    {
        var root = new RootCommand();
        root.SetAction(int (_) => throw new FileNotFoundException("no database at /nowhere.db"));
        var (code, stderr) = await CaptureAsync(() => CommandLineRunner.RunAsync(root, []));
        Assert.Equal(2, code);
        Assert.Equal("error: no database at /nowhere.db", stderr.Trim());
    }

    [Fact]
    public async Task A_parse_error_is_a_user_error_exit_code_2()
    {
        var root = new RootCommand { new Argument<Guid>("run") };
        root.SetAction(_ => 0);
        var (code, stderr) = await CaptureAsync(() => CommandLineRunner.RunAsync(root, ["not-a-guid"]));
        Assert.Equal(2, code);
        Assert.Contains("not-a-guid", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unexpected_failure_is_still_one_line_with_its_type_and_a_non_zero_exit()
    {
        var root = new RootCommand();
        root.SetAction(int (_) => throw new InvalidOperationException("boom"));
        var (code, stderr) = await CaptureAsync(() => CommandLineRunner.RunAsync(root, []));
        Assert.Equal(1, code);
        Assert.Equal("error: InvalidOperationException: boom", stderr.Trim());
    }

    [Fact]
    public async Task Pipelinectl_reading_a_database_that_does_not_exist_says_so_and_creates_nothing()
    {
        var dll = Path.Combine(RepoPaths.Root, "services/Cli/bin/Release/net10.0/pipelinectl.dll");
        Assert.True(File.Exists(dll), "build the solution first (./pipeline setup)");
        var missing = Path.Combine(Path.GetTempPath(), $"pipeline-missing-{Guid.NewGuid():N}.db");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { dll, "runs", "list", "--db", missing })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal(2, p.ExitCode);
        Assert.Equal($"error: no database at {missing}: pass --db FILE (the demo prints the one it used)", stderr.Trim());
        Assert.False(File.Exists(missing));
    }

    private static async Task<(int Code, string Stderr)> CaptureAsync(Func<Task<int>> run)
    {
        var previous = Console.Error;
        var writer = new StringWriter();
        Console.SetError(writer);
        try
        {
            return (await run(), writer.ToString());
        }
        finally
        {
            Console.SetError(previous);
        }
    }
}
