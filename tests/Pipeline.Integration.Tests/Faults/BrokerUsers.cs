using System.Diagnostics;

namespace Pipeline.Integration.Tests.Faults;

/// <summary>
/// The least-privilege users of infra/rabbitmq/permissions.sh on a test's virtual host, with fresh
/// random passwords: the fault tests run every service under its own user, so a missing permission
/// fails them.
/// </summary>
public static class BrokerUsers
{
    public static readonly Dictionary<string, string> ServiceUser = new()
    {
        ["AdaptationRuns"] = "adaptation-runs", ["SensitivityScoring"] = "sensitivity-scoring", ["SparseTuning"] = "sparse-tuning",
        ["EvaluationGate"] = "evaluation-gate", ["Deployment"] = "deployment", ["DriftDetection"] = "drift-detection", ["Inference"] = "inference",
    };

    /// <summary>Creates (or updates) the users and their permissions; returns each service user's password.</summary>
    public static async Task<Dictionary<string, string>> ApplyAsync(string node, string vhost, params string[] operators)
    {
        var passwords = ServiceUser.Values.ToDictionary(u => u, _ => Guid.NewGuid().ToString("N"));
        var script = Path.Combine(ServiceProcess.RepositoryRoot(), "infra", "rabbitmq", "permissions.sh");
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { script, node, vhost }.Concat(operators))
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (user, password) in passwords)
        {
            info.Environment["PIPELINE_AMQP_PASSWORD_" + user.ToUpperInvariant().Replace('-', '_')] = password;
        }

        using var p = Process.Start(info)!;
        var error = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"permissions.sh failed: {await error}");
        return passwords;
    }

    public static async Task AddUserAsync(string node, string user, string password)
    {
        foreach (var args in new[] { new[] { "add_user", user, password }, ["set_permissions", "-p", "/", user, ".*", ".*", ".*"] })
        {
            var info = new ProcessStartInfo("rabbitmqctl") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "-n", node, "-q" }.Concat(args))
            {
                info.ArgumentList.Add(a);
            }

            using var p = Process.Start(info)!;
            await p.StandardOutput.ReadToEndAsync();
            await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
        }
    }
}
