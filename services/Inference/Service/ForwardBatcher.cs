using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace Pipeline.Inference;

/// <summary>
/// The forward pass of every predict route, with optional micro-batching across requests
/// (<see cref="InferenceOptions.MicroBatchMaxRows"/> &gt; 0; off by default). When on, requests for the same loaded
/// version that wait together share one forward pass: the first waiting request opens a batch, which closes when it
/// holds <see cref="InferenceOptions.MicroBatchMaxRows"/> rows or <see cref="InferenceOptions.MicroBatchMaxDelay"/>
/// after that request arrived; each request gets its own rows' outputs back. A request of at least the maximum rows
/// runs alone, at once. Each waiting request keeps its lease on the version, so a swap cannot dispose the weights
/// under a shared pass; the waiting is therefore not cancellable (it is bounded by the delay plus one pass).
/// </summary>
public sealed class ForwardBatcher
{
    private readonly ConditionalWeakTable<LoadedModel, Lane> lanes = new();
    private readonly int maxRows;
    private readonly TimeSpan maxDelay;
    private readonly int forwardBatchSize;
    private readonly TimeProvider time;
    private long passes;

    public ForwardBatcher(IOptions<InferenceOptions> options, TimeProvider time)
    {
        var o = options.Value;
        maxRows = o.MicroBatchMaxRows;
        maxDelay = o.MicroBatchMaxDelay;
        forwardBatchSize = o.ForwardBatchSize;
        this.time = time;
    }

    /// <summary>True when requests may share a forward pass.</summary>
    public bool Enabled => maxRows > 0;

    /// <summary>Forward passes run since start (one per request when micro-batching is off).</summary>
    public long ForwardPasses => Interlocked.Read(ref passes);

    /// <summary>
    /// The softmax probabilities (and with <paramref name="embeddings"/> the embeddings) of <paramref name="rows"/> rows,
    /// as <see cref="LoadedModel.Forward"/> gives them. Only valid while the caller holds a lease on <paramref name="model"/>.
    /// </summary>
    internal Task<ForwardOutputs> ForwardAsync(LoadedModel model, float[] values, int rows, bool embeddings)
    {
        if (!Enabled || rows >= maxRows)
        {
            var outputs = model.Forward(values, rows, forwardBatchSize, embeddings);
            Count(model, rows);
            return Task.FromResult(outputs);
        }

        var pending = new Pending(values, rows, embeddings, time.GetTimestamp());
        lanes.GetValue(model, m => new Lane(this, m)).Enqueue(pending);
        return pending.Result.Task;
    }

    private void Count(LoadedModel model, int rows)
    {
        Interlocked.Increment(ref passes);
        InferenceMetrics.ForwardRows.WithLabels(model.ModelId).Observe(rows);
    }

    /// <summary>One pass for the requests taken together; each gets its own slice of the outputs, or the pass's failure.</summary>
    private void Run(LoadedModel model, List<Pending> taken, int rows)
    {
        try
        {
            var width = model.InputLength;
            float[] values;
            if (taken.Count == 1)
            {
                values = taken[0].Values;
            }
            else
            {
                values = new float[rows * width];
                var at = 0;
                foreach (var p in taken)
                {
                    Array.Copy(p.Values, 0, values, at, p.Rows * width);
                    at += p.Rows * width;
                }
            }

            var outputs = model.Forward(values, rows, forwardBatchSize, taken.Exists(p => p.Embeddings));
            Count(model, rows);
            var classes = model.Classes.Count;
            var row = 0;
            foreach (var p in taken)
            {
                var probabilities = outputs.Probabilities.AsSpan(row * classes, p.Rows * classes).ToArray();
                var embedded = p.Embeddings && outputs.Embeddings is { } e
                    ? e.AsSpan(row * outputs.EmbeddingWidth, p.Rows * outputs.EmbeddingWidth).ToArray()
                    : null;
                p.Result.TrySetResult(new ForwardOutputs(probabilities, embedded, embedded is null ? 0 : outputs.EmbeddingWidth));
                row += p.Rows;
            }
        }
        catch (Exception e)
        {
            foreach (var p in taken)
            {
                p.Result.TrySetException(e);
            }
        }
    }

    private sealed class Pending(float[] values, int rows, bool embeddings, long arrived)
    {
        public float[] Values { get; } = values;

        public int Rows { get; } = rows;

        public bool Embeddings { get; } = embeddings;

        public long Arrived { get; } = arrived;

        public TaskCompletionSource<ForwardOutputs> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The waiting requests of one loaded version and the loop that serves them while any wait.</summary>
    private sealed class Lane(ForwardBatcher owner, LoadedModel model)
    {
        private readonly object gate = new();
        private readonly Queue<Pending> queue = new();
        private readonly SemaphoreSlim arrived = new(0);
        private int queuedRows;
        private bool running;

        public void Enqueue(Pending pending)
        {
            var start = false;
            lock (gate)
            {
                queue.Enqueue(pending);
                queuedRows += pending.Rows;
                if (!running)
                {
                    running = true;
                    start = true;
                }
            }

            arrived.Release();
            if (start)
            {
                // The loop belongs to no request: it must not carry the first one's trace or culture.
                using (ExecutionContext.SuppressFlow())
                {
                    _ = Task.Run(RunAsync);
                }
            }
        }

        private async Task RunAsync()
        {
            while (true)
            {
                long oldest;
                lock (gate)
                {
                    if (queue.Count == 0)
                    {
                        running = false;
                        return;
                    }

                    oldest = queue.Peek().Arrived;
                }

                while (true)
                {
                    lock (gate)
                    {
                        if (queuedRows >= owner.maxRows)
                        {
                            break;
                        }
                    }

                    var left = owner.maxDelay - owner.time.GetElapsedTime(oldest);
                    if (left <= TimeSpan.Zero)
                    {
                        break;
                    }

                    await arrived.WaitAsync(left).ConfigureAwait(false);
                }

                var taken = new List<Pending>();
                var rows = 0;
                lock (gate)
                {
                    while (queue.Count > 0 && (taken.Count == 0 || rows + queue.Peek().Rows <= owner.maxRows))
                    {
                        var p = queue.Dequeue();
                        queuedRows -= p.Rows;
                        rows += p.Rows;
                        taken.Add(p);
                    }
                }

                owner.Run(model, taken, rows);
            }
        }
    }
}
