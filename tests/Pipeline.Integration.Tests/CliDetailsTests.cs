using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.ML.Tests;
using Pipeline.Storage;
using Pipeline.Storage.Data;
using Pipeline.Storage.Migrations;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>pipelinectl details that need no broker: name checks, version statuses, table width.</summary>
public sealed class CliDetailsTests
{
    [Fact]
    public async Task A_manifest_named_differently_from_the_model_id_is_refused_before_anything_is_uploaded()
    {
        var dir = PyTorchModels.Directory;
        var artifacts = Directory.CreateTempSubdirectory("cli-name-").FullName;
        var r = await Pipelinectl.RunAsync("models", "register", "churn", "--file", Path.Combine(dir, "tabular.pt"),
            "--manifest", Path.Combine(dir, "tabular.json"), "--reference-csv", Path.Combine(dir, "tabular-reference.csv"),
            "--label-column", "label", "--artifacts", artifacts);
        Assert.Equal(1, r.Code);
        Assert.Equal($"error: the manifest's name is 'byom-tabular' but the model id is 'churn': register it as 'byom-tabular', or set \"name\": \"churn\" in {Path.Combine(dir, "tabular.json")}",
            r.Err.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(artifacts));
    }

    [Fact]
    public void Versions_show_production_rolled_back_rejected_lost_and_registered()
    {
        Guid deployed = Guid.NewGuid(), rejected = Guid.NewGuid(), tournament = Guid.NewGuid();
        CatalogVersion V(int v, Guid? run = null, string? strategy = null) => new()
        {
            Version = v, Architecture = "torchscript", InputShape = [8], Classes = ["a", "b"], Sha256 = "", ArtifactUri = "", CreatedBy = "t",
            Metadata = run is null ? "{}" : $$"""{"RunId":"{{run}}","Strategy":"{{strategy}}"}""",
        };
        RunSummary Run(Guid id, int? candidate, string state) => new()
        {
            RunId = id, ModelId = "churn", BaseVersion = 1, CandidateVersion = candidate, State = state, DetectedAt = DateTimeOffset.UtcNow,
        };
        var model = new CatalogModel
        {
            ModelId = "churn", ProductionVersion = 1, LatestVersion = 5,
            Versions = [V(1), V(2, deployed, "wise"), V(3, rejected, "ties"), V(4, tournament, "mist-ridge"), V(5, tournament, "ewc")],
        };
        var runs = new[] { Run(deployed, 2, "Deployed"), Run(rejected, 3, "Rejected"), Run(tournament, 4, "AwaitingApproval") }.ToDictionary(x => x.RunId);
        Assert.Equal(["production", "rolled back", "rejected", "awaiting approval", "lost tournament to v4"],
            model.Versions.Select(v => ModelVersionsView.Status(model, v, runs)));
        var later = model with { ProductionVersion = 5 };
        Assert.Equal("superseded", ModelVersionsView.Status(later, model.Versions[1], runs));
        Assert.Equal("registered", ModelVersionsView.Status(later, model.Versions[0], runs));
    }

    [Fact]
    public async Task Tables_do_not_wrap_at_80_columns_when_stdout_is_not_a_terminal()
    {
        var dir = Directory.CreateTempSubdirectory("cli-width-").FullName;
        var db = Path.Combine(dir, "pipeline.db");
        var factory = new DbConnectionFactory(new StorageOptions
        {
            Provider = StorageProvider.Sqlite, ConnectionString = new SqliteConnectionStringBuilder { DataSource = db }.ToString(),
            ArtifactRoot = Path.Combine(dir, "artifacts"),
        });
        await new MigrationRunner(factory).MigrateAsync();
        Assert.True(await new ModelRegistry(factory).RegisterVersionAsync(new ModelVersionRecord
        {
            ModelId = "a-rather-long-model-identifier", Version = 1, ArtifactUri = "artifact://m/1", Sha256 = new string('a', 64),
            Architecture = "mlp", InputShape = [784], Classes = ["a", "b"], CreatedBy = "t",
        }));
        var runs = new AdaptationRunRepository(factory);
        var ids = new[] { Guid.NewGuid(), Guid.NewGuid() };
        foreach (var id in ids)
        {
            Assert.True(await runs.TryStartRunAsync(new NewAdaptationRun { RunId = id, ModelId = "a-rather-long-model-identifier", BaseVersion = 1, Strategy = "mist-ridge" }));
            Assert.True(await runs.TryFailAsync(id, "scoring", "test"));
        }

        SqliteConnection.ClearAllPools();
        var dll = Path.Combine(PyTorchModels.RepositoryRoot(), "services/Cli/bin/Release/net10.0/pipelinectl.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "runs", "list", "--db", db })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("COLUMNS");
        using var p = Process.Start(psi)!;
        var stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await p.StandardError.ReadToEndAsync());
        var lines = stdout.Split('\n');
        foreach (var id in ids)
        {
            // Each run's row is one line holding its whole id and model.
            Assert.Single(lines, l => l.Contains(id.ToString(), StringComparison.Ordinal) && l.Contains("a-rather-long-model-identifier", StringComparison.Ordinal));
        }

        Assert.Contains(lines, l => l.Length > 80);
    }
}
