using Pipeline.Drift.Monitoring;

namespace Pipeline.Drift.Tests;

/// <summary>Every accepted row of every source is new in exactly one window.</summary>
public class WindowSegmentTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    private static ReferenceProfile Profile() => ReferenceProfile.Build("m1", 1, Synth.Rows(2000, 5, 0, 1));

    private static MonitorOptions Opts(int window = 500) => new() { WindowSize = window, ConsecutiveWindowsToRaise = 2 };

    [Fact]
    public void Tumbling_windows_name_the_batches_whose_rows_were_new_in_them_and_split_a_batch_across_windows()
    {
        var monitor = new DriftMonitor(Profile(), Opts());
        Assert.Empty(monitor.Ingest(Synth.Rows(300, 5, 0, 2), new RowSource("b1", T0)).Windows);
        var w1 = Assert.Single(monitor.Ingest(Synth.Rows(450, 5, 0, 3), new RowSource("b2", T0.AddSeconds(1))).Windows);
        Assert.Equal([new WindowSegment("b1", T0, 300), new WindowSegment("b2", T0.AddSeconds(1), 200)], w1.NewRows);
        Assert.Equal(250, monitor.PendingRows);
        var w2 = Assert.Single(monitor.Ingest(Synth.Rows(250, 5, 0, 4), new RowSource("b3")).Windows);
        Assert.Equal([new WindowSegment("b2", T0.AddSeconds(1), 250), new WindowSegment("b3", null, 250)], w2.NewRows);
        Assert.Equal(2, monitor.LastWindowId);

        monitor.Ingest(Synth.Rows(10, 5, 0, 5), new RowSource("b4"));
        var partial = Assert.Single(monitor.Flush());
        Assert.Equal(WindowStatus.InsufficientData, partial.Status);
        Assert.Equal([new WindowSegment("b4", null, 10)], partial.NewRows);
    }

    [Fact]
    public void Sliding_windows_count_only_their_new_rows_and_rejected_rows_in_no_window()
    {
        var monitor = new DriftMonitor(Profile(), Opts(400) with { Window = WindowKind.Sliding, Overlap = 300 });
        var rows = Synth.Rows(700, 5, 0, 6).Cast<Observation?>().ToList();
        rows.Insert(5, new Observation(new float[3], 0, 0.5f)); // wrong width: rejected
        var windows = monitor.Ingest(rows, new RowSource("big")).Windows;
        Assert.Equal(4, windows.Count); // at 400, 500, 600, 700 rows
        Assert.All(windows, w => Assert.Equal(400, w.Rows));
        Assert.Equal([400, 100, 100, 100], windows.Select(w => w.NewRows.Single().Rows));
        Assert.Equal(700, windows.Sum(w => w.NewRows.Sum(s => s.Rows)));
    }

    [Fact]
    public void State_restores_the_window_sequence_so_ids_continue()
    {
        var monitor = new DriftMonitor(Profile(), Opts(), state: new DriftMonitorState(41, 0, false, false, null));
        var w = Assert.Single(monitor.Ingest(Synth.Rows(500, 5, 0, 7), new RowSource("b")).Windows);
        Assert.Equal(42, w.WindowId);
    }
}
