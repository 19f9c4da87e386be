using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MassTransit;

namespace Pipeline.Hosting;

/// <summary>
/// What a message published while another was consumed says about that consume ("hop" headers): the consumed
/// message's type and SentTime, when its handler started, when the output was ready and how much of the handler was
/// compute (<see cref="ComputeClock"/>). A listener (<c>bench pipeline</c>) reads them from the messages it receives,
/// so it can time every hop of a run without reading any other process. The run owner's outbox keeps the stamp of
/// the consume that wrote a row, and its relay stamps the row's creation time as "ready".
/// </summary>
public sealed class HopStamp
{
    public const string InputHeader = "Pipeline-Hop-Input";
    public const string ServiceHeader = "Pipeline-Hop-Service";
    public const string InputSentHeader = "Pipeline-Hop-Input-Sent";
    public const string ConsumeStartHeader = "Pipeline-Hop-Consume-Start";
    public const string ReadyHeader = "Pipeline-Hop-Ready";
    public const string ComputeHeader = "Pipeline-Hop-Compute-Ms";

    private static readonly AsyncLocal<HopStamp?> Ambient = new();
    private long computeTicks;

    /// <summary>The consumed message's type name (e.g. ScoreSensitivity).</summary>
    public required string Input { get; init; }

    /// <summary>The consuming host's modules (e.g. sensitivity-scoring).</summary>
    public string? Service { get; init; }

    /// <summary>The consumed message's SentTime, as its sender's bus stamped it.</summary>
    public DateTimeOffset? InputSent { get; init; }

    /// <summary>When the consume filter saw the message, before retry, outbox and validation.</summary>
    public required DateTimeOffset ConsumeStart { get; init; }

    /// <summary>
    /// When the output was ready: a relayed outbox row's creation. Null for a message published during the consume,
    /// whose SentTime (the Publish call; the in-memory outbox sends it when the consume ends) is when it was ready.
    /// </summary>
    public DateTimeOffset? Ready { get; init; }

    /// <summary>Time measured by <see cref="ComputeClock"/> during the consume.</summary>
    public TimeSpan Compute => TimeSpan.FromTicks(Interlocked.Read(ref computeTicks));

    /// <summary>The stamp of the consume running on this flow, if any.</summary>
    public static HopStamp? Current => Ambient.Value;

    public void AddCompute(TimeSpan elapsed) => Interlocked.Add(ref computeTicks, elapsed.Ticks);

    /// <summary>Makes <paramref name="stamp"/> the current one until the result is disposed.</summary>
    public static IDisposable Use(HopStamp? stamp)
    {
        var previous = Ambient.Value;
        Ambient.Value = stamp;
        return new Restore(previous);
    }

    /// <summary>The same consume, with its output ready at <paramref name="ready"/> (outbox rows are relayed later).</summary>
    public HopStamp ReadyAt(DateTimeOffset ready)
    {
        var copy = new HopStamp { Input = Input, Service = Service, InputSent = InputSent, ConsumeStart = ConsumeStart, Ready = ready };
        copy.AddCompute(Compute);
        return copy;
    }

    /// <summary>
    /// Every hop header, always (an empty value when unknown): MassTransit carries a consumed message's headers over
    /// to what its consumer publishes, so a header left out would keep the input's value.
    /// </summary>
    public void WriteTo(SendHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        headers.Set(InputHeader, Input);
        headers.Set(ServiceHeader, Service ?? "");
        headers.Set(InputSentHeader, InputSent is { } sent ? Format(sent) : "");
        headers.Set(ConsumeStartHeader, Format(ConsumeStart));
        headers.Set(ReadyHeader, Ready is { } ready ? Format(ready) : "");
        headers.Set(ComputeHeader, Compute.TotalMilliseconds.ToString("R", CultureInfo.InvariantCulture));
    }

    /// <summary>The stamp a received message carries; null when it has none (or a malformed one).</summary>
    public static HopStamp? ReadFrom(Headers headers)
    {
        var input = headers.Get<string>(InputHeader);
        if (input is null || !TryParse(headers.Get<string>(ConsumeStartHeader), out var start))
        {
            return null;
        }

        var stamp = new HopStamp
        {
            Input = input, Service = headers.Get<string>(ServiceHeader) is { Length: > 0 } service ? service : null, ConsumeStart = start,
            Ready = TryParse(headers.Get<string>(ReadyHeader), out var ready) ? ready : null,
            InputSent = TryParse(headers.Get<string>(InputSentHeader), out var sent) ? sent : null,
        };
        if (double.TryParse(headers.Get<string>(ComputeHeader), NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && ms > 0)
        {
            stamp.AddCompute(TimeSpan.FromMilliseconds(ms));
        }

        return stamp;
    }

    /// <summary>For a row of the run owner's outbox (the relay publishes it later, outside the consume).</summary>
    public string Encode() => JsonSerializer.Serialize(new Stored(Input, Service, InputSent, ConsumeStart, Compute.TotalMilliseconds));

    public static HopStamp? Decode(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return null;
        }

        try
        {
            var s = JsonSerializer.Deserialize<Stored>(stored);
            if (s is null || s.Input is null)
            {
                return null;
            }

            var stamp = new HopStamp { Input = s.Input, Service = s.Service, InputSent = s.InputSent, ConsumeStart = s.ConsumeStart };
            stamp.AddCompute(TimeSpan.FromMilliseconds(s.ComputeMs));
            return stamp;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Format(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static bool TryParse(string? text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out value);

    private sealed record Stored(string Input, string? Service, DateTimeOffset? InputSent, DateTimeOffset ConsumeStart, double ComputeMs);

    private sealed class Restore(HopStamp? previous) : IDisposable
    {
        public void Dispose() => Ambient.Value = previous;
    }
}

/// <summary>
/// Measures the compute of a consume: the stage's calls into the ML library (scoring, training, evaluation), not
/// loading or saving artifacts, database work or messaging. It adds to the current <see cref="HopStamp"/>.
/// </summary>
public static class ComputeClock
{
    public static T Time<T>(Func<T> compute)
    {
        ArgumentNullException.ThrowIfNull(compute);
        var watch = Stopwatch.StartNew();
        try
        {
            return compute();
        }
        finally
        {
            HopStamp.Current?.AddCompute(watch.Elapsed);
        }
    }
}

/// <summary>Names the host's modules for the hop stamps (registered by AddPipelineServices).</summary>
public sealed record HopServiceName(string Name);

/// <summary>
/// Stamps the consume of every message: everything published during it carries the hop headers. The wall clock, not
/// the host's TimeProvider: stamps are compared with other processes' SentTime.
/// </summary>
public sealed class HopConsumeFilter<T>(HopServiceName service) : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        var stamp = new HopStamp
        {
            Input = typeof(T).Name, Service = service.Name, ConsumeStart = DateTimeOffset.UtcNow,
            InputSent = context.SentTime is { } sent ? new DateTimeOffset(DateTime.SpecifyKind(sent, DateTimeKind.Utc)) : null,
        };
        using (HopStamp.Use(stamp))
        {
            await next.Send(context);
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("hop-stamp");
}

/// <summary>
/// Writes the current <see cref="HopStamp"/> on every message as it is published. Not a scoped filter: the in-memory
/// outbox publishes after the consume's scope is gone.
/// </summary>
public static class HopPublishStamp
{
    public static void Write(PublishContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        HopStamp.Current?.WriteTo(context.Headers);
    }
}
