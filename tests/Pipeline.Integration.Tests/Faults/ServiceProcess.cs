using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>A service host executable as its own process (as in docker compose), that a test can SIGKILL and start again.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly string dll;
    private readonly IReadOnlyDictionary<string, string?> settings;
    private readonly string logPath;
    private Process? process;
    private StreamWriter? log;

    public ServiceProcess(string project, IReadOnlyDictionary<string, string?> settings, string logDirectory)
    {
        Name = project;
        this.settings = settings;
        dll = Path.Combine(RepositoryRoot(), "services", project, "Host", "bin", Configuration(), "net10.0", $"Pipeline.{project}.Host.dll");
        logPath = Path.Combine(logDirectory, $"{project}.log");
    }

    public string Name { get; }

    public Uri Url { get; private set; } = new("http://127.0.0.1");

    /// <summary>Starts the process; <paramref name="overrides"/> change settings for this start only.</summary>
    public async Task StartAsync(TimeSpan timeout, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not built (dotnet build Pipeline.sln)", dll);
        }

        Url = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "--urls", Url.ToString() },
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (k, v) in settings.Concat(overrides ?? new Dictionary<string, string?>()))
        {
            start.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        }

        start.Environment["Logging__LogLevel__Default"] = "Information";
        start.Environment["Logging__LogLevel__MassTransit"] = "Warning";
        log ??= new StreamWriter(File.Open(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        await log.WriteLineAsync($"---- start {DateTime.UtcNow:O}");
        var p = Process.Start(start) ?? throw new InvalidOperationException($"could not start {Name}");
        p.OutputDataReceived += (_, e) => Write(e.Data);
        p.ErrorDataReceived += (_, e) => Write(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        process = p;

        var deadline = DateTime.UtcNow + timeout;
        while (!await ReadyAsync())
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {p.ExitCode}:\n{Tail()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} was not ready within {timeout}:\n{Tail()}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Starts the process again if a test left it killed (so one failed case does not fail the next ones).</summary>
    public async Task EnsureRunningAsync(TimeSpan timeout)
    {
        if (process is not { HasExited: false })
        {
            await StartAsync(timeout);
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, the broker sees the connection drop with the message unacknowledged.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false } p)
        {
            Write($"---- SIGKILL {DateTime.UtcNow:O}");
            p.Kill();
            await p.WaitForExitAsync();
        }
    }

    public string Tail(int lines = 40)
    {
        try
        {
            using var reader = new StreamReader(File.Open(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private void Write(string? line)
    {
        if (line is not null && log is { } w)
        {
            lock (w)
            {
                w.WriteLine(line);
            }
        }
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(Url, "/health/ready"));
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The configuration this test assembly was built in (bin/Release or bin/Debug), used for the hosts too.</summary>
    private static string Configuration() =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Pipeline.sln not found above the test assembly");
    }

    public async ValueTask DisposeAsync()
    {
        if (process is { HasExited: false } p)
        {
            using var term = Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)]);
            await term!.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await p.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
            }
        }

        process?.Dispose();
        if (log is not null)
        {
            await log.DisposeAsync();
        }
    }
}
