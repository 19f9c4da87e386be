using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

/// <summary>The drift window bookkeeping that lets a DriftDetection replica rebuild an open window and keeps window ids unique.</summary>
public sealed class DriftWindowRepositoryTests : IAsyncLifetime
{
    private static readonly string Sha = new('b', 64);
    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync();

    public Task DisposeAsync()
    {
        _db.Dispose();
        return Task.CompletedTask;
    }

    private static DriftWindowRecord Window(long sequence, params (string, int)[] segments) => new()
    {
        Report = new DriftReport { ModelId = "m", ModelVersion = 1, WindowId = $"m-v1-w{sequence}", Severity = "None", RowCount = segments.Sum(s => s.Item2), Id = Guid.NewGuid() },
        Sequence = sequence,
        Consecutive = (int)sequence,
        Segments = segments,
    };

    [Fact]
    public async Task Pending_rows_shrink_as_windows_are_recorded_and_a_stale_sequence_stores_nothing()
    {
        await new ModelRegistry(_db.Factory).EnsureModelAsync("m");
        var batches = new ObservationRepository(_db.Factory);
        var repo = new DriftWindowRepository(_db.Factory);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-5);
        foreach (var (id, rows, i) in new[] { ("b1", 3, 0), ("b2", 4, 1), ("b3", 2, 2) })
        {
            Assert.True(await batches.AddBatchAsync(new ObservationBatch
            {
                ModelId = "m", BatchId = id, ModelVersion = 1, FeaturesUri = $"artifact://observations/m/{id}", FeaturesSha256 = Sha,
                Predictions = new int[rows], Confidences = Enumerable.Repeat(0.25f * (i + 1), rows).ToArray(), AcceptedAt = t0.AddSeconds(i),
                ReceivedAt = t0.AddSeconds(i), DriftRowsDone = 0,
            }));
        }

        // A batch the drift monitor does not track (e.g. seeded rows) is never pending.
        Assert.True(await batches.AddBatchAsync(new ObservationBatch
        {
            ModelId = "m", BatchId = "seeded", ModelVersion = 1, FeaturesUri = "artifact://observations/m/seeded", FeaturesSha256 = Sha, Predictions = new int[9],
        }));
        Assert.Equal(new DriftWindowProgress(0, 0), await repo.GetProgressAsync("m"));
        Assert.Equal(9, await repo.CountPendingRowsAsync("m", 1));

        Assert.True(await repo.RecordWindowAsync(Window(1, ("b1", 3), ("b2", 2))));
        Assert.False(await repo.RecordWindowAsync(Window(1, ("b2", 2)))); // another replica stored window 1 already
        Assert.False(await repo.RecordWindowAsync(Window(3, ("b2", 2)))); // not the next one
        Assert.Equal(new DriftWindowProgress(1, 1), await repo.GetProgressAsync("m"));
        Assert.Equal(4, await repo.CountPendingRowsAsync("m", 1));

        var pending = await repo.ListPendingAsync("m", 1);
        Assert.Equal(["b2", "b3"], pending.Select(p => p.BatchId));
        Assert.Equal(2, pending[0].RowsDone);
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f], pending[0].Confidences);
        Assert.Equal(t0.AddSeconds(1), pending[0].AcceptedAt);

        await repo.MarkRowsDoneAsync("m", "b3", 2);
        Assert.True(await repo.RecordWindowAsync(Window(2, ("b2", 2))));
        Assert.Equal(0, await repo.CountPendingRowsAsync("m", 1));
        Assert.Empty(await repo.ListPendingAsync("m", 1));
        var segments = await repo.ListSegmentsAsync("m");
        Assert.Equal([(1L, "b1", 3), (1L, "b2", 2), (2L, "b2", 2)], segments.Select(s => (s.WindowSeq, s.BatchId, s.Rows)));
        Assert.Equal(2, (await new DriftRepository(_db.Factory).ListReportsAsync("m")).Count);
    }
}
