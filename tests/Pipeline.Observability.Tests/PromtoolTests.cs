namespace Pipeline.Observability.Tests;

public sealed class PromtoolTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Rules_pass_promtool_check_rules()
    {
        var result = await Processes.RunAsync(Processes.Tool("promtool"), ["check", "rules", Assets.RulesPath], Timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("SUCCESS", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compose_config_passes_promtool_check_config_with_the_rules_path_rewritten()
    {
        var dir = Directory.CreateTempSubdirectory("pipeline-promtool-").FullName;
        try
        {
            var config = await File.ReadAllTextAsync(Assets.PrometheusConfigPath);
            Assert.Contains(Assets.ComposeRulesPath, config, StringComparison.Ordinal);
            var rules = Path.Combine(dir, "rules.yml");
            File.Copy(Assets.RulesPath, rules);
            var configPath = Path.Combine(dir, "prometheus.yml");
            await File.WriteAllTextAsync(configPath, config.Replace(Assets.ComposeRulesPath, rules, StringComparison.Ordinal));

            var result = await Processes.RunAsync(Processes.Tool("promtool"), ["check", "config", configPath], Timeout);

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("SUCCESS", result.Output, StringComparison.Ordinal);
            Assert.Contains("rules found", result.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Alert_unit_tests_pass_promtool_test_rules()
    {
        var tests = Path.Combine(Assets.RepoRoot, "infra", "prometheus", "rules.test.yml");
        Assert.True(File.Exists(tests), $"{tests} is missing");

        var result = await Processes.RunAsync(Processes.Tool("promtool"), ["test", "rules", tests], Timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
