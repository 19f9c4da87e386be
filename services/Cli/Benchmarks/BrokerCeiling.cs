using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Pipeline.Cli.Benchmarks;

/// <summary>The ceiling: rows per second that a bare publisher and consumer move through the same broker.</summary>
public sealed record CeilingResult
{
    public required double RowsPerSecond { get; init; }
    public required long Rows { get; init; }
    public required long Messages { get; init; }
    public required double Seconds { get; init; }
    public required int Publishers { get; init; }
    public required long BytesPerRow { get; init; }
}

/// <summary>
/// The same rows, in the same batches, through the same broker and virtual host with no pipeline around them, for a
/// fixed time (the load's batches again and again):
/// each message is one batch's float32 features (the bytes a request carries into the pipeline, 3,136 per
/// Fashion-MNIST row), published persistent with publisher confirms to a durable queue (as MassTransit publishes
/// here) by <see cref="Publishers"/> channels at once (the inference API's default concurrency), and consumed with
/// manual acks and the services' prefetch (16). Raw RabbitMQ.Client: no serializer, no handler; only the broker.
/// </summary>
public static class BrokerCeiling
{
    public const int Publishers = 8;

    public static async Task<CeilingResult> MeasureAsync(Uri broker, IReadOnlyList<PlannedBatch> plan, float[][] images, TimeSpan limit, CancellationToken ct)
    {
        var width = images[0].Length;
        var bytesPerRow = width * sizeof(float);
        var bodies = plan.Select(p => p.Rows).Distinct().ToDictionary(n => n, n => Body(images, n));
        var queue = $"bench-load-ceiling-{Guid.NewGuid():N}";
        var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "bench-load-ceiling" };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var consumerChannel = await connection.CreateChannelAsync(cancellationToken: ct);
        await consumerChannel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        try
        {
            long consumedRows = 0, consumedMessages = 0, publishedRows = 0;
            var lastConsumed = Stopwatch.GetTimestamp();
            await consumerChannel.BasicQosAsync(0, 16, false, ct);
            var consumer = new AsyncEventingBasicConsumer(consumerChannel);
            consumer.ReceivedAsync += async (_, e) =>
            {
                Interlocked.Add(ref consumedRows, e.Body.Length / bytesPerRow);
                Interlocked.Increment(ref consumedMessages);
                Interlocked.Exchange(ref lastConsumed, Stopwatch.GetTimestamp());
                await consumerChannel.BasicAckAsync(e.DeliveryTag, multiple: false);
            };
            await consumerChannel.BasicConsumeAsync(queue, autoAck: false, consumer, ct);

            var start = Stopwatch.GetTimestamp();
            var deadline = start + (long)(limit.TotalSeconds * Stopwatch.Frequency);
            var publishers = Enumerable.Range(0, Publishers).Select(async k =>
            {
                await using var channel = await connection.CreateChannelAsync(
                    new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
                var props = new BasicProperties { Persistent = true, ContentType = "application/octet-stream" };
                // The load's batches over and over until the bound: long enough to be a rate, not a start-up.
                for (var i = k; Stopwatch.GetTimestamp() < deadline; i += Publishers)
                {
                    var rows = plan[i % plan.Count].Rows;
                    // Completes when the broker confirms the message (tracking on), as a MassTransit publish here does.
                    await channel.BasicPublishAsync("", queue, mandatory: false, props, bodies[rows], ct);
                    Interlocked.Add(ref publishedRows, rows);
                }
            }).ToList();
            await Task.WhenAll(publishers);

            // Drain: the consumer gets everything published, or the bound ends the measurement.
            var drainUntil = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
            while (Interlocked.Read(ref consumedRows) < Interlocked.Read(ref publishedRows) && Stopwatch.GetTimestamp() < drainUntil)
            {
                await Task.Delay(20, ct);
            }

            var seconds = Stopwatch.GetElapsedTime(start, Interlocked.Read(ref lastConsumed)).TotalSeconds;
            var rows = Interlocked.Read(ref consumedRows);
            return new CeilingResult
            {
                RowsPerSecond = seconds > 0 ? rows / seconds : 0, Rows = rows, Messages = Interlocked.Read(ref consumedMessages),
                Seconds = seconds, Publishers = Publishers, BytesPerRow = bytesPerRow,
            };
        }
        finally
        {
            await consumerChannel.QueueDeleteAsync(queue, cancellationToken: CancellationToken.None);
        }
    }

    private static byte[] Body(float[][] images, int rows)
    {
        var width = images[0].Length;
        var body = new byte[rows * width * sizeof(float)];
        for (var r = 0; r < rows; r++)
        {
            Buffer.BlockCopy(images[r % images.Length], 0, body, r * width * sizeof(float), width * sizeof(float));
        }

        return body;
    }
}
