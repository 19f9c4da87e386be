using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>
/// Rows this replica accepted that drift detection has not evaluated yet, per model: a batch counts from its
/// ObservationsIngested until DriftWindowEvaluated names its rows. Beyond <see cref="InferenceOptions.MaxLagRows"/>
/// the predict routes answer 503 with Retry-After (docs/decisions.md); every accepted row is still evaluated, once.
/// A batch no window names within <see cref="InferenceOptions.LagExpiry"/> (its message went to an error queue, its
/// model was removed) stops counting, with a warning, so a lost message cannot refuse traffic for ever.
/// </summary>
public sealed class EvaluationLag(IOptions<InferenceOptions> options, TimeProvider time, ILogger<EvaluationLag> logger)
{
    private readonly InferenceOptions settings = options.Value;
    private readonly ConcurrentDictionary<Guid, Pending> pending = new();
    private readonly ConcurrentDictionary<string, ModelLag> models = new(StringComparer.Ordinal);
    private long lastSweep;

    /// <summary>Rows accepted here and not yet evaluated.</summary>
    public long Rows(string modelId) => models.TryGetValue(modelId, out var m) ? Interlocked.Read(ref m.Rows) : 0;

    /// <summary>Null while the model's lag is within the bound; otherwise the refusal (503, Retry-After from the measured drain rate).</summary>
    public Refusal? Check(string modelId)
    {
        var bound = settings.MaxLagRows;
        if (bound <= 0)
        {
            return null;
        }

        Sweep();
        var lag = Rows(modelId);
        if (lag < bound)
        {
            return null;
        }

        var rate = models.TryGetValue(modelId, out var m) ? m.RowsPerSecond(time.GetUtcNow()) : 0;
        var over = lag - (bound * 0.9);
        var seconds = rate > 0 ? Math.Clamp(over / rate, 1, 60) : 5;
        return new Refusal(503, "Drift evaluation is behind",
            $"Model '{modelId}' has {lag} accepted rows not yet evaluated for drift; the bound is {bound} (Inference:MaxLagRows). " +
            $"Every accepted row is still evaluated; retry after {Math.Ceiling(seconds)} s, when the backlog has drained.",
            TimeSpan.FromSeconds(Math.Ceiling(seconds)), "lag");
    }

    /// <summary>A batch was published to drift detection.</summary>
    public void Accepted(string modelId, Guid batchId, int rows)
    {
        var m = models.GetOrAdd(modelId, _ => new ModelLag());
        if (pending.TryAdd(batchId, new Pending(modelId, rows, time.GetUtcNow())))
        {
            Interlocked.Add(ref m.Rows, rows);
            InferenceMetrics.EvaluationLag.WithLabels(modelId).Set(Interlocked.Read(ref m.Rows));
        }
    }

    /// <summary>A drift window was evaluated: its segments of batches accepted here stop counting.</summary>
    public void Evaluated(DriftWindowEvaluated window)
    {
        var now = time.GetUtcNow();
        foreach (var segment in window.Batches)
        {
            if (!pending.TryGetValue(segment.BatchId, out var p))
            {
                continue;
            }

            var left = Interlocked.Add(ref p.Left, -segment.Rows);
            if (left <= 0)
            {
                pending.TryRemove(segment.BatchId, out _);
            }

            var m = models.GetOrAdd(p.ModelId, _ => new ModelLag());
            var done = segment.Rows + Math.Min(0, left);
            Interlocked.Add(ref m.Rows, -done);
            m.Drained(done, now);
            InferenceMetrics.EvaluationLag.WithLabels(p.ModelId).Set(Interlocked.Read(ref m.Rows));
        }
    }

    private void Sweep()
    {
        var now = time.GetUtcNow();
        var last = Interlocked.Read(ref lastSweep);
        if (now.UtcTicks - last < TimeSpan.TicksPerSecond || Interlocked.CompareExchange(ref lastSweep, now.UtcTicks, last) != last)
        {
            return;
        }

        foreach (var (id, p) in pending)
        {
            if (now - p.AcceptedAt > settings.LagExpiry && pending.TryRemove(id, out _))
            {
                var left = Math.Max(0, Interlocked.Read(ref p.Left));
                Interlocked.Add(ref models.GetOrAdd(p.ModelId, _ => new ModelLag()).Rows, -left);
                logger.LogWarning("Batch {BatchId} of {ModelId} ({Rows} rows) was not evaluated for drift within {Expiry}; it no longer counts as lag",
                    id, p.ModelId, left, settings.LagExpiry);
            }
        }
    }

    private sealed class Pending(string modelId, int rows, DateTimeOffset acceptedAt)
    {
        public long Left = rows;

        public string ModelId => modelId;

        public DateTimeOffset AcceptedAt => acceptedAt;
    }

    private sealed class ModelLag
    {
        public long Rows;
        private readonly object gate = new();
        private double rate;
        private DateTimeOffset last;

        /// <summary>Rows evaluated per second, smoothed over the last few seconds.</summary>
        public double RowsPerSecond(DateTimeOffset now)
        {
            lock (gate)
            {
                return last == default || (now - last).TotalSeconds > 30 ? 0 : rate;
            }
        }

        public void Drained(long rows, DateTimeOffset now)
        {
            lock (gate)
            {
                if (last != default)
                {
                    var seconds = Math.Max((now - last).TotalSeconds, 1e-3);
                    var alpha = Math.Min(1, seconds / 5);
                    rate = ((1 - alpha) * rate) + (alpha * rows / seconds);
                }

                last = now;
            }
        }
    }
}

/// <summary>Drift windows evaluated (any replica's rows): this replica's accepted batches in them stop counting as lag.</summary>
public sealed class DriftWindowEvaluatedConsumer(EvaluationLag lag) : MassTransit.IConsumer<DriftWindowEvaluated>
{
    public Task Consume(MassTransit.ConsumeContext<DriftWindowEvaluated> context)
    {
        lag.Evaluated(context.Message);
        return Task.CompletedTask;
    }
}
