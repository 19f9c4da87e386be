using System.Diagnostics;
using Pipeline.ML.Data;

namespace Pipeline.Packaging.Tests;

/// <summary>`demo --sequence` refuses bad input with one line and exit code 2 before it starts anything.</summary>
public sealed class DemoSequenceArgumentTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("demo-sequence-args-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Work => Path.Combine(dir, "work");

    private async Task<(int Code, string Stderr)> DemoAsync(params string[] args)
    {
        var dll = Path.Combine(RepoPaths.Root, "services/Standalone/bin/Release/net10.0/Pipeline.Standalone.dll");
        Assert.True(File.Exists(dll), "build the solution first (./pipeline setup)");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { dll, "demo", "--work-dir", Work }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        await stdout;
        return (p.ExitCode, stderr.Trim());
    }

    private (string Images, string Labels) Files(int images, int labels)
    {
        var (i, l) = (Path.Combine(dir, $"images-{images}.idx.gz"), Path.Combine(dir, $"labels-{labels}.idx.gz"));
        IdxReader.WriteBytes(i, [images, 28, 28], new byte[images * 28 * 28], gzip: true);
        IdxReader.WriteBytes(l, [labels], Enumerable.Range(0, labels).Select(k => (byte)(k % 10)).ToArray(), gzip: true);
        return (i, l);
    }

    private void AssertNothingStarted(int code, string stderr)
    {
        Assert.Equal(2, code);
        Assert.Single(stderr.Split('\n'));
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Work), "the work directory was created");
    }

    [Fact]
    public async Task An_unknown_regime_is_one_line_and_exit_2()
    {
        var (code, stderr) = await DemoAsync("--sequence", "rotate-15,sideways", "--seed", "1");
        AssertNothingStarted(code, stderr);
        Assert.Contains("unknown regime 'sideways' in --sequence", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_regime_file_is_one_line_and_exit_2()
    {
        var (code, stderr) = await DemoAsync("--sequence", "mine", "--regime", $"mine={Path.Combine(dir, "none.idx.gz")}:{Path.Combine(dir, "none2.idx.gz")}");
        AssertNothingStarted(code, stderr);
        Assert.Contains("regime 'mine': no file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Images_and_labels_that_do_not_match_are_one_line_and_exit_2()
    {
        var (images, labels) = Files(100, 99);
        var (code, stderr) = await DemoAsync("--sequence", "rotate-15,mine", "--regime", $"mine={images}:{labels}");
        AssertNothingStarted(code, stderr);
        Assert.Contains("regime 'mine'", stderr, StringComparison.Ordinal);
        Assert.Contains("expected 100 labels", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_regime_too_short_to_be_detected_says_the_minimum_and_exits_2()
    {
        var (images, labels) = Files(1000, 1000);
        var (code, stderr) = await DemoAsync("--sequence", "mine", "--regime", $"mine={images}:{labels}");
        AssertNothingStarted(code, stderr);
        // appsettings.json: windows of 500, 2 in a row, 2000 labelled rows: 500 × 3 + 2000.
        Assert.Contains("regime 'mine' is too short", stderr, StringComparison.Ordinal);
        Assert.Contains("at least 3500", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_regime_definition_without_files_is_one_line_and_exit_2()
    {
        var (code, stderr) = await DemoAsync("--sequence", "mine", "--regime", "mine");
        AssertNothingStarted(code, stderr);
        Assert.Contains("expected NAME=IMAGES.idx.gz:LABELS.idx.gz", stderr, StringComparison.Ordinal);
    }
}
