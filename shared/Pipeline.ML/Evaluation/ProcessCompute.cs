namespace Pipeline.ML.Evaluation;

/// <summary>
/// Training and latency measurement in one process (the standalone host runs the tuner and the gate side by side):
/// trainings hold a shared lease, a latency measurement waits for an exclusive one, so no candidate trains in the
/// process while a latency is taken. New trainings wait while a measurement holds it. Leases are taken
/// and released on the same thread (synchronous compute).
/// </summary>
public static class ProcessCompute
{
    private static readonly ReaderWriterLockSlim Lock = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>A training's shared lease (blocks while a measurement holds the exclusive one).</summary>
    public static IDisposable Training()
    {
        Lock.EnterReadLock();
        return new Lease(Lock.ExitReadLock);
    }

    /// <summary>The exclusive lease within <paramref name="wait"/>, or null when trainings still ran then.</summary>
    public static IDisposable? Quiet(TimeSpan wait) => Lock.TryEnterWriteLock(wait) ? new Lease(Lock.ExitWriteLock) : null;

    private sealed class Lease(Action release) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) release();
        }
    }
}
