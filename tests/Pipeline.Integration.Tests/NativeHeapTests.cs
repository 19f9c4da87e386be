using Microsoft.Extensions.Configuration;
using Pipeline.Hosting;
using Xunit;

namespace Pipeline.Integration.Tests;

/// <summary>The hosts' malloc tuning (NativeHeap): applied through glibc's mallopt on this Linux machine, switchable, bounded.</summary>
public sealed class NativeHeapTests
{
    private static readonly bool GlibcVariablesSet =
        Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null;

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>("NativeHeap:" + v.Key, v.Value))).Build();

    [Fact]
    public void Defaults_are_applied_through_mallopt()
    {
        var outcome = NativeHeap.Configure(Settings());

        Assert.Equal(outcome, NativeHeap.Outcome);
        Assert.Equal(
            GlibcVariablesSet
                ? "not tuned: MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ is set in the environment"
                : "malloc keeps blocks under 32 MiB in the heap and up to 64 MiB of free memory for reuse",
            outcome);
    }

    [Fact]
    public void The_mmap_threshold_is_capped_at_glibcs_maximum_and_the_switch_turns_it_off()
    {
        if (GlibcVariablesSet)
        {
            // glibc's own variables win over any setting.
            Assert.StartsWith("not tuned: MALLOC_", NativeHeap.Configure(Settings(("MmapThresholdMb", "512"))), StringComparison.Ordinal);
            return;
        }

        Assert.Equal(
            "malloc keeps blocks under 32 MiB in the heap and up to 128 MiB of free memory for reuse",
            NativeHeap.Configure(Settings(("MmapThresholdMb", "512"), ("TrimThresholdMb", "128"))));
        Assert.Equal("not tuned: NativeHeap:Enabled is false", NativeHeap.Configure(Settings(("Enabled", "false"))));
    }
}
