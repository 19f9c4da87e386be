using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;

namespace Pipeline.Hosting;

/// <summary>
/// Section "NativeHeap": how glibc's malloc treats the large, short-lived buffers of native libraries (libtorch's
/// activations and outputs, a few hundred KB to a few MB per forward pass). By default glibc serves such a buffer
/// with a fresh mmap and unmaps it when it is freed. The next pass then page-faults on every page it writes. On the
/// 2-core VM that doubled the served forward pass (36 → 17 ms per 100 rows; docs/decisions.md 148). The host keeps
/// those buffers in the heap and keeps freed memory for reuse instead.
/// </summary>
public sealed class NativeHeapOptions
{
    public const string Section = "NativeHeap";

    /// <summary>Tune malloc at start (Linux with glibc only; elsewhere nothing happens).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Allocations below this many MiB come from the heap, not a fresh mmap (glibc's M_MMAP_THRESHOLD; at most 32).</summary>
    public int MmapThresholdMb { get; set; } = 32;

    /// <summary>Free memory at the top of the heap that is kept rather than given back to the system (M_TRIM_THRESHOLD), MiB.</summary>
    public int TrimThresholdMb { get; set; } = 64;
}

/// <summary>Applies <see cref="NativeHeapOptions"/> once per process, before native libraries allocate much.</summary>
public static class NativeHeap
{
    private const int TrimThreshold = -1;
    private const int MmapThreshold = -3;
    private const int MaxMmapThresholdMb = 32;

    /// <summary>What was applied, for the start-up log ("not tuned: …" when nothing was).</summary>
    public static string Outcome { get; private set; } = "not tuned: not configured";

    /// <summary>Tunes malloc from the "NativeHeap" section; returns <see cref="Outcome"/>.</summary>
    public static string Configure(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var o = configuration.GetSection(NativeHeapOptions.Section).Get<NativeHeapOptions>() ?? new NativeHeapOptions();
        Outcome = Apply(o);
        return Outcome;
    }

    private static string Apply(NativeHeapOptions o)
    {
        if (!o.Enabled)
        {
            return "not tuned: NativeHeap:Enabled is false";
        }

        if (!OperatingSystem.IsLinux())
        {
            return "not tuned: not Linux";
        }

        // Settings given to glibc itself win: they were read before this process ran any code.
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null)
        {
            return "not tuned: MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ is set in the environment";
        }

        var mmap = Math.Clamp(o.MmapThresholdMb, 0, MaxMmapThresholdMb);
        var trim = Math.Max(0, o.TrimThresholdMb);
        try
        {
            var ok = Mallopt(MmapThreshold, mmap << 20) == 1 & Mallopt(TrimThreshold, trim << 20) == 1;
            return ok
                ? $"malloc keeps blocks under {mmap} MiB in the heap and up to {trim} MiB of free memory for reuse"
                : "not tuned: mallopt refused the values (not glibc?)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"not tuned: no mallopt in this C library ({e.GetType().Name})";
        }
    }

    // DllImport, not LibraryImport: two ints need no marshalling, and LibraryImport would make the project unsafe.
    [DllImport("libc", EntryPoint = "mallopt")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Mallopt(int parameter, int value);
}
