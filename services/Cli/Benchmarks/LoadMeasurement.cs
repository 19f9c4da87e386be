using System.Diagnostics;
using Pipeline.ML.Models;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// What <c>bench load</c> measures beside the traffic itself: the bare forward pass, the tail until every accepted
/// row is in a window, the processes' CPU time and the machine's load average.
/// </summary>
internal static class LoadMeasurement
{
    /// <summary>The model's forward pass on one batch, as the API calls it (ModelBundle.Predict), median of 20 after 3 warm-ups.</summary>
    public static double BareForward(ModelBundle model, float[][] images, int batch)
    {
        var rows = Enumerable.Range(0, batch).Select(i => images[i % images.Length]).ToArray();
        for (var i = 0; i < 3; i++)
        {
            model.Predict(rows, 512);
        }

        var times = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var start = Stopwatch.GetTimestamp();
            model.Predict(rows, 512);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return LoadMath.Percentile(times, 0.5)!.Value;
    }

    /// <summary>
    /// Waits until every accepted row is in a window, or no new window arrived for <paramref name="bound"/>, or ten
    /// bounds passed in all (a backlog that drains too slowly ends the run too; the rows left out say so).
    /// </summary>
    public static async Task<(double Seconds, bool TimedOut)> TailAsync(
        WindowRecorder recorder, IReadOnlyList<SentBatch> sent, TimeSpan bound, CancellationToken ct, long openWindowRows = 0)
    {
        var ids = sent.Where(s => s.BatchId is not null).Select(s => s.BatchId!.Value).ToHashSet();
        var rowsIn = sent.Where(s => s.BatchId is not null).Sum(s => (long)s.Rows) - openWindowRows;
        var clock = Stopwatch.StartNew();
        var lastProgress = clock.Elapsed;
        long last = -1;
        while (true)
        {
            var rows = recorder.Windows.SelectMany(w => w.Window.Batches).Where(b => ids.Contains(b.BatchId)).Sum(b => (long)b.Rows);
            if (rows >= rowsIn)
            {
                return (clock.Elapsed.TotalSeconds, false);
            }

            if (rows != last)
            {
                (last, lastProgress) = (rows, clock.Elapsed);
            }
            else if (clock.Elapsed - lastProgress > bound || clock.Elapsed > 10 * bound)
            {
                return (clock.Elapsed.TotalSeconds, true);
            }

            await Task.Delay(100, ct);
        }
    }

    public static Dictionary<string, double?> Cpu(LoadServiceHosts services)
    {
        var cpu = services.All.ToDictionary(s => s.Name, s => LoadServiceHosts.CpuSeconds(s.Process));
        using var self = Process.GetCurrentProcess();
        cpu["bench"] = LoadServiceHosts.CpuSeconds(self);
        return cpu;
    }

    public static string? LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
