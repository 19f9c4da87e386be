using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Launch;

/// <summary>
/// Every service as its own process, from its built host executable (as in docker compose), with the given settings
/// as environment variables, each on a free loopback port with its log in <c>logDirectory</c>. Used by
/// <c>./pipeline demo --distributed</c>, <c>./pipeline bench pipeline</c> and the integration tests that kill a service
/// (<see cref="StartHost(string, string, IReadOnlyDictionary{string, string?}, Action{string?})"/>).
/// </summary>
public sealed class ServiceProcesses : IAsyncDisposable
{
    /// <summary>Service name and project folder (services/&lt;Project&gt;/Host) of every host.</summary>
    public static readonly IReadOnlyList<(string Name, string Project)> Hosts =
    [
        ("adaptation-runs", "AdaptationRuns"), ("drift-detection", "DriftDetection"), ("sensitivity-scoring", "SensitivityScoring"), ("sparse-tuning", "SparseTuning"),
        ("evaluation-gate", "EvaluationGate"), ("deployment", "Deployment"), ("inference", "Inference"),
    ];

    private readonly List<(string Name, Process Process, Uri Url)> processes = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string logDirectory;

    private ServiceProcesses(string logDirectory) => this.logDirectory = logDirectory;

    public IReadOnlyList<(string Name, Process Process, Uri Url)> Processes => processes;

    public Uri UrlOf(string name) => processes.First(p => p.Name == name).Url;

    /// <summary>A service that has exited, with its exit code and log, or null while all run.</summary>
    public string? Exited() => processes.FirstOrDefault(p => p.Process.HasExited) is { Process: not null } gone
        ? $"{gone.Name} exited with code {gone.Process.ExitCode}; see {LogOf(gone.Name)}"
        : null;

    public string LogOf(string name) => Path.Combine(logDirectory, name + ".log");

    /// <summary>Messaging settings for a broker URI (amqp://user:password@host:port/vhost).</summary>
    public static Dictionary<string, string?> BrokerSettings(Uri broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var user = Uri.UnescapeDataString(broker.UserInfo.Split(':')[0]);
        var password = broker.UserInfo.Contains(':', StringComparison.Ordinal) ? Uri.UnescapeDataString(broker.UserInfo.Split(':')[1]) : "";
        var vhost = broker.AbsolutePath.Trim('/') is { Length: > 0 } v ? Uri.UnescapeDataString(v) : "/";
        return new Dictionary<string, string?>
        {
            ["Messaging:Transport"] = "RabbitMq", ["Messaging:Host"] = broker.Host,
            ["Messaging:Port"] = (broker.IsDefaultPort ? 5672 : broker.Port).ToString(CultureInfo.InvariantCulture), ["Messaging:VirtualHost"] = vhost,
            ["Messaging:Username"] = user, ["Messaging:Password"] = password,
        };
    }

    /// <summary>Starts every host and waits until each one's /health/ready is Healthy (at most <paramref name="readyWithin"/>).</summary>
    public static async Task<ServiceProcesses> StartAsync(
        IReadOnlyDictionary<string, string?> settings, string logDirectory, TimeSpan readyWithin, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var started = new ServiceProcesses(logDirectory);
        try
        {
            started.Launch(settings);
            await started.WaitReadyAsync(readyWithin, ct);
            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    private void Launch(IReadOnlyDictionary<string, string?> settings)
    {
        var root = RepositoryRoot();
        foreach (var (name, project) in Hosts)
        {
            var dll = HostDll(root, project, "Release");
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"{dll} is not built: run ./pipeline setup", dll);
            }

            var (process, url) = StartHost(name, dll, settings, LogOf(name));
            processes.Add((name, process, url));
        }
    }

    /// <summary>The built host executable of services/<paramref name="project"/>/Host in a configuration (Release, Debug).</summary>
    public static string HostDll(string root, string project, string configuration) =>
        Path.Combine(root, "services", project, "Host", "bin", configuration, "net10.0", $"Pipeline.{project}.Host.dll");

    /// <summary>
    /// Starts one built host on a free loopback port with these settings (keys as in appsettings, ':'
    /// separated, passed as environment variables), its output written to <paramref name="logPath"/>.
    /// </summary>
    public static (Process Process, Uri Url) StartHost(string name, string dll, IReadOnlyDictionary<string, string?> settings, string logPath)
    {
        var log = File.CreateText(logPath);
        log.AutoFlush = true;
        return StartHost(name, dll, settings, line => Append(log, line));
    }

    /// <summary>Starts one built host as <see cref="StartHost(string, string, IReadOnlyDictionary{string, string?}, string)"/>, each line of its output to <paramref name="output"/>.</summary>
    public static (Process Process, Uri Url) StartHost(string name, string dll, IReadOnlyDictionary<string, string?> settings, Action<string?> output)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
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
        process.OutputDataReceived += (_, e) => output(e.Data);
        process.ErrorDataReceived += (_, e) => output(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, url);
    }

    private static void Append(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    private async Task WaitReadyAsync(TimeSpan within, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + within;
        foreach (var (name, process, url) in processes)
        {
            while (await ReadyAsync(url, ct) != "Healthy")
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{name} exited with code {process.ExitCode}; see {LogOf(name)}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{name} was not ready within {within.TotalSeconds:0} s; see {LogOf(name)}");
                }

                await Task.Delay(250, ct);
            }
        }
    }

    /// <summary>Each service's readiness, as its /health/ready says.</summary>
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

    /// <summary>The checkout the running program was built in (the folder with Pipeline.sln).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the service processes run from a built checkout (Pipeline.sln not found)");
    }

    /// <summary>SIGTERM to every host (the generic host stops gracefully), then waits; a host that hangs is killed.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (_, process, _) in processes)
        {
            if (!process.HasExited)
            {
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
