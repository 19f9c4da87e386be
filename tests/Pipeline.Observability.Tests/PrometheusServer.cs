using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Pipeline.Observability.Tests;

/// <summary>
/// A real Prometheus (Debian's /usr/bin/prometheus) on a free loopback port with a temp storage
/// folder, scraping the given targets every second as job "pipeline" with the repository's rules.yml.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder log = new();

    private PrometheusServer(Process process, string directory, Uri address)
    {
        this.process = process;
        Directory = directory;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Directory { get; }

    public Uri Address { get; }

    public HttpClient Http { get; }

    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <param name="targets">Service hosts, scraped as job "pipeline" (none: no such job).</param>
    /// <param name="extraJobs">More scrape_configs entries, as YAML list items indented by two spaces.</param>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<Uri> targets, TimeSpan timeout, string? extraJobs = null)
    {
        var hosts = targets.ToList();
        var directory = System.IO.Directory.CreateTempSubdirectory("pipeline-prometheus-").FullName;
        var rules = Path.Combine(directory, "rules.yml");
        File.Copy(Assets.RulesPath, rules);
        var config = new StringBuilder()
            .AppendLine("global:")
            .AppendLine("  scrape_interval: 1s")
            .AppendLine("  scrape_timeout: 1s")
            .AppendLine("  evaluation_interval: 1s")
            .AppendLine("rule_files:")
            .AppendLine(CultureInfo.InvariantCulture, $"  - {rules}")
            .AppendLine("scrape_configs:");
        if (hosts.Count > 0)
        {
            config.AppendLine("  - job_name: pipeline")
                .AppendLine("    metrics_path: /metrics")
                .AppendLine("    static_configs:")
                .AppendLine("      - targets:");
        }

        foreach (var t in hosts)
        {
            if (!t.IsLoopback)
            {
                throw new ArgumentException($"{t} is not a loopback address", nameof(targets));
            }

            config.AppendLine(CultureInfo.InvariantCulture, $"          - {t.Host}:{t.Port}");
        }

        config.Append(extraJobs);
        var configPath = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(configPath, config.ToString());

        var port = Processes.FreeLoopbackPort();
        var info = new ProcessStartInfo(Processes.Tool("prometheus"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory,
        };
        foreach (var a in new[]
                 {
                     $"--config.file={configPath}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitReadyAsync(timeout);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        await WaitUntilAsync(async ct =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"prometheus exited with {process.ExitCode}:\n{Log}");
            }

            try
            {
                using var response = await Http.GetAsync(new Uri("/-/ready", UriKind.Relative), ct);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, timeout, "prometheus to be ready");
    }

    /// <summary>Waits until every configured target has been scraped successfully.</summary>
    public Task WaitForTargetsUpAsync(int count, TimeSpan timeout) =>
        WaitUntilAsync(async ct =>
        {
            var body = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/targets?state=active", UriKind.Relative), ct);
            var targets = body.GetProperty("data").GetProperty("activeTargets").EnumerateArray().ToList();
            return targets.Count == count && targets.All(t => t.GetProperty("health").GetString() == "up");
        }, timeout, $"{count} targets to be up");

    /// <summary>An instant query through the HTTP API; the whole JSON answer (status, data or errorType/error).</summary>
    public async Task<JsonElement> QueryAsync(string expr, CancellationToken ct = default)
    {
        using var content = new FormUrlEncodedContent([new KeyValuePair<string, string>("query", expr)]);
        using var response = await Http.PostAsync(new Uri("/api/v1/query", UriKind.Relative), content, ct);
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    public async Task<JsonElement> GetAsync(string path, CancellationToken ct = default) =>
        await Http.GetFromJsonAsync<JsonElement>(new Uri(path, UriKind.Relative), ct);

    public static async Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                if (await condition(cts.Token))
                {
                    return;
                }

                await Task.Delay(200, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                throw new TimeoutException($"gave up waiting for {what} after {timeout.TotalSeconds:F0} s");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(cts.Token);
            }
        }
        finally
        {
            process.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }
}
