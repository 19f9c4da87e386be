using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Adaptation;
using Pipeline.Hosting;

namespace Pipeline.Standalone.Demo;

/// <summary>
/// The same scenario against separate service processes on RabbitMQ: each service's own host
/// executable (as in docker compose), sharing one SQLite database and artifact folder. The demo
/// itself is one more client on the bus.
/// </summary>
public sealed class DistributedEnvironment : IDemoEnvironment
{
    private static readonly (string Name, string Project)[] ServiceHosts =
    [
        ("adaptation-runs", "AdaptationRuns"), ("drift-detection", "DriftDetection"), ("sensitivity-scoring", "SensitivityScoring"), ("sparse-tuning", "SparseTuning"),
        ("evaluation-gate", "EvaluationGate"), ("deployment", "Deployment"), ("inference", "Inference"),
    ];

    private readonly List<(string Name, Process Process, Uri Url)> processes = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private IHost? client;

    public string Mode => "distributed";

    public IServiceProvider Services => client!.Services;

    public Uri InferenceUrl { get; private set; } = new("http://127.0.0.1");

    public static async Task<DistributedEnvironment> StartAsync(
        IConfiguration appConfig, IDictionary<string, string?> storage, Uri broker, string workDir, DemoEvents events, CancellationToken ct)
    {
        var env = new DistributedEnvironment();
        try
        {
            await env.StartServicesAsync(appConfig, storage, broker, workDir, ct);
            await env.StartClientAsync(storage, broker, events, ct);
            return env;
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string?> BrokerSettings(Uri broker)
    {
        var user = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]);
        var password = broker.UserInfo.Contains(':', StringComparison.Ordinal) ? Uri.UnescapeDataString(broker.UserInfo.Split(':')[1]) : "";
        var vhost = broker.AbsolutePath.Trim('/') is { Length: > 0 } v ? Uri.UnescapeDataString(v) : "/";
        return new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "RabbitMq", ["Messaging:Host"] = broker.Host,
            ["Messaging:Port"] = broker.Port.ToString(CultureInfo.InvariantCulture), ["Messaging:VirtualHost"] = vhost,
            ["Messaging:Username"] = user, ["Messaging:Password"] = password,
        };
    }

    private async Task StartServicesAsync(IConfiguration appConfig, IDictionary<string, string?> storage, Uri broker, string workDir, CancellationToken ct)
    {
        var root = RepositoryRoot();
        var settings = new Dictionary<string, string?>(BrokerSettings(broker));
        foreach (var (k, v) in storage)
        {
            settings[k] = v;
        }

        // The demo's stage settings (appsettings.json of the Standalone host) apply to every process.
        foreach (var section in new[] { "Runs", "Roles", "DriftDetection", "Scoring", "Tuning", "Gate", "Inference", "Logging" })
        {
            foreach (var (k, v) in appConfig.GetSection(section).AsEnumerable())
            {
                if (v is not null)
                {
                    settings[k] = v;
                }
            }
        }

        foreach (var (name, project) in ServiceHosts)
        {
            var dll = Path.Combine(root, "services", project, "Host", "bin", "Release", "net10.0", $"Pipeline.{project}.Host.dll");
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"{dll} is not built: run ./pipeline setup", dll);
            }

            var url = new Uri($"http://127.0.0.1:{FreePort()}");
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { dll, "--urls", url.ToString() },
                WorkingDirectory = Path.GetDirectoryName(dll)!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var (k, v) in settings)
            {
                start.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
            var log = File.CreateText(Path.Combine(workDir, $"{name}.log"));
            log.AutoFlush = true;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            processes.Add((name, process, url));
            if (name == "inference")
            {
                InferenceUrl = url;
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(120);
        foreach (var (name, process, url) in processes)
        {
            while (await ReadyAsync(url, ct) != "Healthy")
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{name} exited with code {process.ExitCode}; see {Path.Combine(workDir, name + ".log")}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{name} was not ready within 120 s; see {Path.Combine(workDir, name + ".log")}");
                }

                await Task.Delay(250, ct);
            }
        }
    }

    private async Task StartClientAsync(IDictionary<string, string?> storage, Uri broker, DemoEvents events, CancellationToken ct)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(BrokerSettings(broker).Concat(storage));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddPipelineServices(builder.Configuration, new DemoObserverModule(events));
        builder.Services.AddAdaptationArtifacts();
        client = builder.Build();
        await client.StartAsync(ct);
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ready.CancelAfter(TimeSpan.FromSeconds(60));
        await client.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, ready.Token);
    }

    public async Task<IReadOnlyList<(string Service, string Status)>> ReadinessAsync(CancellationToken ct)
    {
        var list = new List<(string, string)>();
        foreach (var (name, process, url) in processes)
        {
            list.Add(($"{name} (pid {process.Id}, {url.Port})", await ReadyAsync(url, ct)));
        }

        return list;
    }

    private async Task<string> ReadyAsync(Uri url, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(url, "/health/ready"), ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() ?? "unknown";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return "starting";
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the distributed demo runs from a built checkout (Pipeline.sln not found)");
    }

    public async ValueTask DisposeAsync()
    {
        if (client is not null)
        {
            await client.StopAsync(TimeSpan.FromSeconds(10));
            client.Dispose();
        }

        foreach (var (_, process, _) in processes)
        {
            if (!process.HasExited)
            {
                // SIGTERM: the generic host stops gracefully (bus disconnects, queues drained).
                using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
                await kill!.WaitForExitAsync();
            }
        }

        foreach (var (_, process, _) in processes)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }

        http.Dispose();
    }
}
