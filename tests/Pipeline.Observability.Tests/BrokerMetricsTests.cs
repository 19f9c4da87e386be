using System.Globalization;
using System.Text.Json;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.Observability.Tests;

/// <summary>
/// The error-queue panel and alert against RabbitMQ's own exporter: the local broker of
/// <c>./pipeline test</c> (rabbitmq_prometheus, enabled by <c>./pipeline setup</c> and
/// infra/rabbitmq/bootstrap.sh) scraped by a real Prometheus with the scrape job of
/// infra/prometheus/prometheus.yml, while the test fills an error queue of its own.
/// </summary>
public sealed class BrokerMetricsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>The broker ./pipeline test starts (PIPELINE_TEST_RABBITMQ: its own vhost), default guest on localhost.</summary>
    private static Uri BrokerUri { get; } = new(Environment.GetEnvironmentVariable("PIPELINE_TEST_RABBITMQ") is { Length: > 0 } u
        ? u : "amqp://guest:guest@127.0.0.1:5672/");

    [Fact]
    public async Task Error_queue_panel_and_alert_see_a_growing_error_queue_on_the_brokers_own_exporter()
    {
        var queue = $"observability-probe-{Guid.NewGuid():N}_error";
        await using var connection = await new ConnectionFactory { Uri = BrokerUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        try
        {
            await PublishAsync(channel, queue, 2);
            var exporter = $"{BrokerUri.Host}:15692";
            await using var prometheus = await PrometheusServer.StartAsync([], Wait, Assets.ScrapeJobFor("rabbitmq-queues", exporter));
            try
            {
                await prometheus.WaitForTargetsUpAsync(1, Wait);
            }
            catch (TimeoutException ex)
            {
                var targets = await prometheus.GetAsync("/api/v1/targets");
                throw new TimeoutException($"{ex.Message}: is rabbitmq_prometheus enabled (./pipeline setup)? {targets}", ex);
            }

            // The panel shows the probe's queue at its depth (the broker refreshes queue metrics every 5 s).
            var panel = Assets.DashboardExprs().Single(e => e.Source.StartsWith("panel 'Messages in error queues'", StringComparison.Ordinal));
            await PrometheusServer.WaitUntilAsync(
                async ct => ValueOf(await prometheus.QueryAsync(panel.Evaluable, ct), queue) == 2, Wait, $"{queue} at depth 2 in the panel");

            // It grows: the alert's expression (without its 'for') selects exactly that queue among the broker's.
            await PublishAsync(channel, queue, 3);
            var alert = Assets.AlertExprs().Single(e => e.Source == "rule ErrorQueueGrowing");
            await PrometheusServer.WaitUntilAsync(
                async ct => ValueOf(await prometheus.QueryAsync(alert.Expr, ct), queue) > 0, Wait, $"ErrorQueueGrowing to select {queue}");
            var answer = await prometheus.QueryAsync(alert.Expr);
            output.WriteLine(answer.ToString());
            Assert.DoesNotContain(Series(answer), s => !s.Queue.EndsWith("_error", StringComparison.Ordinal));
        }
        finally
        {
            await channel.QueueDeleteAsync(queue);
        }
    }

    private static async Task PublishAsync(IChannel channel, string queue, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await channel.BasicPublishAsync("", queue, "{\"probe\":true}"u8.ToArray());
        }
    }

    private static IEnumerable<(string Queue, double Value)> Series(JsonElement answer) =>
        answer.GetProperty("status").GetString() != "success"
            ? []
            : answer.GetProperty("data").GetProperty("result").EnumerateArray().Select(r => (
                r.GetProperty("metric").TryGetProperty("queue", out var q) ? q.GetString()! : "",
                double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)));

    private static double? ValueOf(JsonElement answer, string queue) =>
        Series(answer).Where(s => s.Queue == queue).Select(s => (double?)s.Value).FirstOrDefault();
}
