using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// A RabbitMQ node of the test's own (own node name, ports, data and log directories), so the test can
/// stop and start its broker without touching the one other tests and checkouts share.
/// </summary>
public sealed class RabbitNode : IAsyncDisposable
{
    private readonly string directory;

    private RabbitNode(string directory, int port)
    {
        this.directory = directory;
        Port = port;
        NodeName = $"pipeline-fault-{port}@localhost";
    }

    public string NodeName { get; }

    public int Port { get; }

    public static async Task<RabbitNode> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-fault-rabbit-").FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].");
        // The server drops privileges to the rabbitmq user when started as root: it must own its directory.
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["-R", "rabbitmq:rabbitmq", directory]);
        }

        var node = new RabbitNode(directory, FreePort());
        await node.StartNodeAsync();
        return node;
    }

    public async Task StartNodeAsync()
    {
        var start = new ProcessStartInfo("rabbitmq-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["RABBITMQ_NODENAME"] = NodeName;
        start.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        start.Environment["RABBITMQ_NODE_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_DIST_PORT"] = (Port + 20000 > 65000 ? Port - 20000 : Port + 20000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia");
        start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log");
        start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins");
        start.Environment["RABBITMQ_PID_FILE"] = Path.Combine(directory, "pid");
        var server = Process.Start(start) ?? throw new InvalidOperationException("could not start rabbitmq-server");
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await ListensAsync())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"RabbitMQ node {NodeName} did not listen on {Port} within 60 s");
            }

            await Task.Delay(250);
        }

        await RunAsync("rabbitmqctl", ["-n", NodeName, "-q", "await_startup"]);
    }

    /// <summary>Stops the node (its durable queues and persistent messages stay on disk).</summary>
    public Task StopNodeAsync() => RunAsync("rabbitmqctl", ["-n", NodeName, "-q", "stop"]);

    private async Task<bool> ListensAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {await stderr}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopNodeAsync();
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
