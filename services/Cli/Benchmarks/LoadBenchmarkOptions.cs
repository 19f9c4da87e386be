using System.Globalization;

namespace Pipeline.Cli.Benchmarks;

/// <summary>Settings of <c>bench load</c>; <see cref="Problem"/> says in one line what is wrong with them.</summary>
public sealed record LoadBenchmarkOptions
{
    public const int MaxBatch = 4096; // Inference:MaxBatchRows' default

    public int Seconds { get; init; } = 20;
    public int Rate { get; init; } = 2000;
    public int Batch { get; init; } = 100;
    public int Models { get; init; } = 1;
    /// <summary>DriftDetection:WindowSize for the run (500, the production default).</summary>
    public int WindowRows { get; init; } = 500;
    /// <summary>How long to wait after the last request for windows to stop arriving (no progress for this long ends the run).</summary>
    public TimeSpan Tail { get; init; } = TimeSpan.FromSeconds(30);
    public required Uri Broker { get; init; }
    /// <summary>Database, artifacts and the services' logs of this run.</summary>
    public required string WorkDirectory { get; init; }
    public string? DataDirectory { get; init; }
    public string? CacheDirectory { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>How rows travel: JSON instances, raw float32 rows, or v2 with binary tensor data.</summary>
    public LoadProtocol Protocol { get; init; } = LoadProtocol.Json;
    /// <summary>Inference:MicroBatchMaxRows for the run (0: off, the production default).</summary>
    public int MicroBatchRows { get; init; }
    /// <summary>Inference:TorchThreads for the run (0: libtorch's default, one per core).</summary>
    public int TorchThreads { get; init; }

    public int RowsPerModel => LoadMath.RowsPerModel(Rate, Seconds, Models, WindowRows);

    /// <summary>The broker from $PIPELINE_BENCH_RABBITMQ (./pipeline sets a fresh vhost), else guest on localhost.</summary>
    public static Uri DefaultBroker =>
        new(Environment.GetEnvironmentVariable("PIPELINE_BENCH_RABBITMQ") is { Length: > 0 } u ? u : "amqp://guest:guest@127.0.0.1:5672/");

    public string? Problem()
    {
        if (Seconds is < 1 or > 3600) return "--seconds must be 1..3600";
        if (Rate is < 1 or > 1_000_000) return "--rate must be 1..1000000 rows per second";
        if (Batch is < 1 or > MaxBatch) return $"--batch must be 1..{MaxBatch} rows (the API's largest request)";
        if (Models is < 1 or > 16) return "--models must be 1..16";
        if (WindowRows is < 30 or > 1_000_000) return "--window must be 30..1000000 rows (DriftDetection:WindowSize)";
        if (TorchThreads is < 0 or > 256) return "--torch-threads must be 0..256 (0: libtorch's default)";
        if (MicroBatchRows is < 0 or > MaxBatch) return $"--micro-batch must be 0..{MaxBatch} rows (0: off)";
        if (Tail < TimeSpan.FromSeconds(1) || Tail > TimeSpan.FromMinutes(30)) return "--tail-seconds must be 1..1800";
        if (Broker.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(Broker.Host)) return $"broker '{Broker}' is not an amqp:// URI";
        if (RowsPerModel == 0)
        {
            var perModel = (long)Rate * Seconds / Models;
            return string.Create(CultureInfo.InvariantCulture,
                $"--rate × --seconds / --models = {perModel} rows per model, fewer than one drift window ({WindowRows} rows): raise --rate or --seconds, or lower --window");
        }

        return null;
    }
}
