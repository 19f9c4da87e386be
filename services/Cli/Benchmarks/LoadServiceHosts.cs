using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Hosting;
using Pipeline.Launch;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// Service hosts as production runs them: each its own <c>dotnet Pipeline.X.Host.dll</c> process (the executable of
/// the Dockerfile and of <c>demo --distributed</c>), configured by environment variables, with its own Kestrel port,
/// output to a log file in the work folder, ready when its <c>/health/ready</c> says Healthy.
/// </summary>
public sealed class LoadServiceHosts : IAsyncDisposable
{
    private readonly List<Service> services = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string logDirectory;

    public LoadServiceHosts(string logDirectory) => this.logDirectory = logDirectory;

    public sealed record Service(string Name, Process Process, Uri Url, string Log);

    public IReadOnlyList<Service> All => services;

    public Service this[string name] => services.Single(s => s.Name == name);

    /// <summary>Starts <c>services/{project}/Host</c>'s built host with these settings (keys as in appsettings, ':' separated).</summary>
    public Service Start(string name, string project, IReadOnlyDictionary<string, string?> settings)
    {
        var dll = HostDll(project);
        var path = Path.Combine(logDirectory, $"{name}.log");
        var (process, url) = ServiceProcesses.StartHost(name, dll, settings, path);
        var service = new Service(name, process, url, path);
        services.Add(service);
        return service;
    }

    /// <summary>Waits until every service is ready; a service that exits or stays unready past the timeout fails the start.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var s in services)
        {
            while (await ReadyAsync(s.Url, ct) != "Healthy")
            {
                if (s.Process.HasExited)
                {
                    throw new InvalidOperationException($"{s.Name} exited with code {s.Process.ExitCode}; see {s.Log}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{s.Name} was not ready within {timeout.TotalSeconds:F0} s; see {s.Log}");
                }

                await Task.Delay(250, ct);
            }
        }
    }

    private async Task<string> ReadyAsync(Uri url, CancellationToken ct)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(url, "/health/ready"), ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            return JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() ?? "unknown";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return "starting";
        }
    }

    /// <summary>A service's Prometheus text (its /metrics), or null when it cannot be read.</summary>
    public async Task<string?> MetricsAsync(string name, CancellationToken ct)
    {
        try
        {
            return await http.GetStringAsync(new Uri(this[name].Url, "/metrics"), ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>CPU seconds (user + system) the process has used so far, from /proc; null where unreadable.</summary>
    public static double? CpuSeconds(Process process)
    {
        try
        {
            process.Refresh();
            return process.TotalProcessorTime.TotalSeconds;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The host of a service project, built next to this executable's configuration (Release by default).</summary>
    public static string HostDll(string project)
    {
        var root = ServiceProcesses.RepositoryRoot();
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent?.Name is { } c && Directory.Exists(Path.Combine(root, "services", project, "Host", "bin", c))
            ? c : "Release";
        var dll = Path.Combine(root, "services", project, "Host", "bin", configuration, "net10.0", $"Pipeline.{project}.Host.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"{dll} is not built: run ./pipeline setup", dll);
    }

    /// <summary>SIGTERM (graceful host stop), then a bounded wait, then kill.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var s in services.Where(s => !s.Process.HasExited))
        {
            using var kill = Process.Start("kill", ["-TERM", s.Process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill!.WaitForExitAsync();
        }

        foreach (var s in services)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await s.Process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                s.Process.Kill(entireProcessTree: true);
            }

            s.Process.Dispose();
        }

        http.Dispose();
    }
}
