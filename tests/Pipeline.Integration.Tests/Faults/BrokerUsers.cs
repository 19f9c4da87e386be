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

    /// <summary>
    /// A service user's password: PIPELINE_AMQP_PASSWORD_&lt;USER&gt;, which ./pipeline test sets (one per user on the
    /// machine, shared by every checkout: users are node-wide, so a fresh password per run would lock out runs
    /// side by side).
    /// </summary>
    public static string TestPassword(string user) =>
        Environment.GetEnvironmentVariable(PasswordVariable(user)) is { Length: > 0 } password
            ? password
            : throw new InvalidOperationException(
                $"{PasswordVariable(user)} is not set: run the integration tests with ./pipeline test, which makes the services' own users (infra/rabbitmq/permissions.sh) on the test vhost");

    public static string PasswordVariable(string user) => "PIPELINE_AMQP_PASSWORD_" + user.ToUpperInvariant().Replace('-', '_');

    /// <summary>Creates (or updates) the users and their permissions; returns each service user's password.</summary>
    public static async Task<Dictionary<string, string>> ApplyAsync(string node, string vhost, params string[] operators)
    {
        var passwords = ServiceUser.Values.ToDictionary(u => u, TestPassword);
        var script = Path.Combine(ServiceProcess.RepositoryRoot(), "infra", "rabbitmq", "permissions.sh");
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { script, node, vhost }.Concat(operators))
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (user, password) in passwords)
        {
            info.Environment[PasswordVariable(user)] = password;
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
