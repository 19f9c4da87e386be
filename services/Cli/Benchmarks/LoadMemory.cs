using System.Diagnostics;

namespace Pipeline.Cli.Benchmarks;

/// <summary>Resident memory of one service process over the traffic and its tail: at the start, the highest sample, at the end (MiB).</summary>
public sealed record LoadMemory(double StartMb, double PeakMb, double EndMb);

/// <summary>
/// Samples each service process's resident memory (working set) once a second while the traffic runs and drains, so
/// a host whose memory grows without bound under overload shows it (start, peak, end per process).
/// </summary>
public sealed class LoadMemorySampler : IAsyncDisposable
{
    private readonly IReadOnlyList<LoadServiceHosts.Service> services;
    private readonly Dictionary<string, (double Start, double Peak, double Last)> seen = [];
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public LoadMemorySampler(IReadOnlyList<LoadServiceHosts.Service> services)
    {
        this.services = services;
        Sample();
        loop = RunAsync();
    }

    /// <summary>Stops sampling and returns what each process used, by service name.</summary>
    public async Task<IReadOnlyDictionary<string, LoadMemory>> StopAsync()
    {
        await stop.CancelAsync();
        await loop;
        Sample();
        return seen.ToDictionary(kv => kv.Key, kv => new LoadMemory(Mb(kv.Value.Start), Mb(kv.Value.Peak), Mb(kv.Value.Last)));
    }

    public async ValueTask DisposeAsync()
    {
        if (!stop.IsCancellationRequested)
        {
            await stop.CancelAsync();
        }

        await loop;
        stop.Dispose();
    }

    private static double Mb(double bytes) => Math.Round(bytes / (1024 * 1024), 1);

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                Sample();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Sample()
    {
        foreach (var s in services)
        {
            if (Rss(s.Process) is not { } bytes)
            {
                continue;
            }

            lock (seen)
            {
                seen[s.Name] = seen.TryGetValue(s.Name, out var was) ? (was.Start, Math.Max(was.Peak, bytes), bytes) : (bytes, bytes, bytes);
            }
        }
    }

    private static double? Rss(Process process)
    {
        try
        {
            process.Refresh();
            return process.HasExited ? null : process.WorkingSet64;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }
}
