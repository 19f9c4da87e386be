using System.Text.Json;
using Pipeline.Contracts;

namespace Pipeline.Inference.Tests;

/// <summary>
/// The broker's max_message_size (infra/rabbitmq/rabbitmq.conf: compose, Kubernetes and, through bootstrap.sh,
/// the local broker) fits the largest message Inference publishes, with room to spare, and is not 128 MiB.
/// </summary>
public sealed class MessageSizeTests
{
    // MassTransit's envelope (ids, addresses, message types, host, headers) is about 1-2 KiB; allow 16.
    private const int EnvelopeAllowance = 16 * 1024;

    private static long BrokerLimit()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var line = File.ReadAllLines(Path.Combine(dir!.FullName, "infra", "rabbitmq", "rabbitmq.conf"))
            .Single(l => l.TrimStart().StartsWith("max_message_size", StringComparison.Ordinal));
        return long.Parse(line.Split('=')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>ObservationsIngested at its worst: every row with a label and a confidence of maximal JSON length.</summary>
    private static int Size(int rows)
    {
        var message = new ObservationsIngested
        {
            ModelId = new string('m', 64), ModelVersion = int.MaxValue, BatchId = Guid.NewGuid(),
            Features = new PayloadRef { Uri = $"artifact://observations/{new string('m', 64)}/{Guid.NewGuid()}.pfb", Sha256 = new string('a', 64), SizeBytes = long.MaxValue },
            Count = rows, FeatureCount = 784,
            Predictions = Enumerable.Repeat(999, rows).ToArray(),
            Confidences = Enumerable.Repeat(0.123456789f, rows).ToArray(),
            Labels = Enumerable.Repeat(999, rows).ToArray(),
        };
        return JsonSerializer.SerializeToUtf8Bytes(message, new JsonSerializerOptions(JsonSerializerDefaults.Web)).Length + EnvelopeAllowance;
    }

    [Fact]
    public void The_largest_observation_batch_message_fits_the_brokers_max_message_size_four_times()
    {
        var limit = BrokerLimit();
        Assert.InRange(limit, 1024 * 1024, 16L * 1024 * 1024);

        var atDefault = Size(new InferenceOptions().MaxBatchRows);
        var atCap = Size(InferenceOptions.MaxBatchRowsCap);
        Assert.True(atDefault < 128 * 1024, $"{atDefault} bytes at the default MaxBatchRows");
        Assert.True(atCap * 4L <= limit, $"{atCap} bytes at MaxBatchRows {InferenceOptions.MaxBatchRowsCap}; the broker takes {limit}");
    }
}
