using Pipeline.Storage.Repositories;

namespace Pipeline.Storage.Tests;

/// <summary>The inference service's batch records: lookup by id, and a quota check that concurrent requests cannot both pass.</summary>
public sealed class InferenceBatchTests
{
    private static InferenceBatch Batch(string client, int rows) => new()
    {
        BatchId = Guid.NewGuid(), ModelId = "m", ClientId = client, RowCount = rows, SizeBytes = rows * 16L,
    };

    [Fact]
    public async Task A_recorded_batch_is_found_by_id_with_its_client_and_a_deleted_one_is_not()
    {
        using var db = await TestDatabase.CreateAsync();
        var repo = new InferenceBatchRepository(db.Factory);
        var quota = new StorageQuota(100, 10_000, TimeSpan.FromDays(1));
        var batch = Batch("shop", 3);

        Assert.True((await repo.TryRecordAsync(batch, quota)).Recorded);

        var found = await repo.GetAsync(batch.BatchId);
        Assert.Equal(("m", "shop", 3, 48L), (found!.ModelId, found.ClientId, found.RowCount, found.SizeBytes));
        Assert.True(found.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Null(await repo.GetAsync(Guid.NewGuid()));
        Assert.True(await repo.DeleteAsync(batch.BatchId));
        Assert.Null(await repo.GetAsync(batch.BatchId));
    }

    [Fact]
    public async Task The_quota_counts_one_client_in_the_window_and_concurrent_requests_cannot_both_pass()
    {
        using var db = await TestDatabase.CreateAsync();
        var repo = new InferenceBatchRepository(db.Factory);
        var quota = new StorageQuota(10, 10_000, TimeSpan.FromDays(1));
        Assert.True((await repo.TryRecordAsync(Batch("a", 4), quota)).Recorded);

        // Eight requests of 4 rows race for the 6 rows left: exactly one fits.
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => repo.TryRecordAsync(Batch("a", 4), quota))));
        Assert.Single(results, r => r.Recorded);
        var refused = results.First(r => !r.Recorded);
        Assert.Equal((2L, 8L, 128L), (refused.Usage.Batches, refused.Usage.Rows, refused.Usage.Bytes));
        Assert.NotNull(refused.Usage.Oldest);

        // Another client has its own quota; an empty window (nothing recent) lets the client in again.
        Assert.True((await repo.TryRecordAsync(Batch("b", 10), quota)).Recorded);
        Assert.True((await repo.TryRecordAsync(Batch("a", 4), quota with { Window = TimeSpan.FromTicks(1) })).Recorded);
    }
}
