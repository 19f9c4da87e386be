using System.Diagnostics;
using System.Globalization;
using Pipeline.Launch;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// A service host executable as its own process (as in docker compose), that a test can SIGKILL and start again;
/// started by the one launcher (Pipeline.Launch's <see cref="ServiceProcesses.StartHost(string, string, IReadOnlyDictionary{string, string?}, Action{string?})"/>).
/// </summary>
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
        dll = ServiceProcesses.HostDll(RepositoryRoot(), project, Configuration());
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

        log ??= new StreamWriter(File.Open(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        await log.WriteLineAsync($"---- start {DateTime.UtcNow:O}");
        var environment = settings.Concat(overrides ?? new Dictionary<string, string?>())
            .Append(new("Logging:LogLevel:Default", "Information"))
            .Append(new("Logging:LogLevel:MassTransit", "Warning"))
            .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value);
        var (p, url) = ServiceProcesses.StartHost(Name, dll, environment, Write);
        Url = url;
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

    /// <summary>The configuration this test assembly was built in (bin/Release or bin/Debug), used for the hosts too.</summary>
    private static string Configuration() =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string RepositoryRoot() => ServiceProcesses.RepositoryRoot();

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
