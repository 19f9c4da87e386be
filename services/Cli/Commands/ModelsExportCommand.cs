using System.CommandLine;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.ML.Models;
using Pipeline.Storage;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;
using TorchSharp;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>models export MODEL [--version N] --out DIR</c>: a registered version back to PyTorch. The registry stores each
/// version as the pipeline's model file (<c>model.bin</c>: metadata, TorchScript bytes or a built-in's parameters,
/// adaptation history, readout); the export writes <c>MODEL-vN.pt</c> (TorchScript; a built-in through its template),
/// <c>MODEL-vN.json</c> (its manifest) and, for a version with a readout, <c>MODEL-vN.readout.npz</c>, which
/// tools/byom/load_adapted.py applies. The version is found in the registry over the bus (ListModels, answered by
/// Deployment) or offline with <c>--db</c>; the file is read from the shared artifact store and checked against the
/// registry's SHA-256.
/// </summary>
public static class ModelsExportCommand
{
    public static Command Create()
    {
        var model = Ctl.ModelArgument();
        var version = new Option<int?>("--version") { Description = "Version to export (default: the production version)" };
        version.Validators.Add(v =>
        {
            if (v.GetValue(version) is < 1)
            {
                v.AddError("--version must be 1 or more");
            }
        });
        var output = new Option<string>("--out") { Description = "Folder to write MODEL-vN.pt, MODEL-vN.json and MODEL-vN.readout.npz into", Required = true };
        var db = new Option<string?>("--db") { Description = "Read the registry from this SQLite file offline instead of asking the running pipeline" };
        var artifacts = new Option<string?>("--artifacts") { Description = "Artifact store the services write (default $Storage__ArtifactRoot or .pipeline/artifacts)" };
        var cmd = Ctl.WithConnection(new Command("export", "Write a version as TorchScript + manifest (+ readout arrays) that PyTorch loads")
        {
            model, version, output, db, artifacts,
        });
        cmd.SetAction((r, ct) => Ctl.RunAsync(async () =>
        {
            var id = r.GetValue(model)!;
            var wanted = r.GetValue(version);
            var (v, uri, sha, isProduction) = r.GetValue(db) is { } file
                ? await FindOfflineAsync(file, id, wanted, ct)
                : Find(await OperatorClient.QueryAsync<ListModels, ModelCatalog>(Ctl.Broker(r), new ListModels { ModelId = id }, Ctl.Deployment, Ctl.Timeout(r), ct), id, wanted);
            var store = new FileSystemArtifactStore(r.GetValue(artifacts) ?? ModelsCommands.DefaultArtifactRoot());
            string local;
            try
            {
                local = await store.GetVerifiedLocalPathAsync(uri, sha, ct);
            }
            catch (ArtifactStoreException ex)
            {
                throw new UserErrorException($"{id} v{v}: {ex.Message} (is --artifacts the store the services write?)");
            }

            var dir = r.GetValue(output)!;
            Directory.CreateDirectory(dir);
            var name = $"{id}-v{v.ToString(CultureInfo.InvariantCulture)}";
            try
            {
                using var bundle = ModelBundle.Load(local, torch.CPU);
                var written = bundle.ExportTorchScript(Path.Combine(dir, name + ".pt")).ToList();
                var manifest = Path.Combine(dir, name + ".json");
                await File.WriteAllTextAsync(manifest, (bundle.ExportManifest() with { Name = id }).ToJson(), ct);
                written.Insert(1, manifest);
                var readout = bundle.Readout is { } ro
                    ? bundle.ServesReadout ? $"; predicts through its {ro.Kind} readout: load it with tools/byom/load_adapted.py" : $"; {ro.Kind} readout statistics ride along (the classifier holds it)"
                    : "";
                Console.WriteLine($"exported {id} v{v}{(isProduction ? " (production)" : "")}, {bundle.Info.Architecture}{readout}");
                foreach (var f in written)
                {
                    Console.WriteLine("  " + f);
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException)
            {
                throw new UserErrorException($"{id} v{v} cannot be exported: {ex.Message}");
            }

            return 0;
        }));
        return cmd;
    }

    private static (int Version, string Uri, string Sha256, bool Production) Find(ModelCatalog catalog, string id, int? wanted)
    {
        var m = catalog.Models.FirstOrDefault(x => x.ModelId == id) ?? throw new UserErrorException($"model '{id}' is not registered");
        var v = wanted ?? m.ProductionVersion ?? throw new UserErrorException($"{id} has no production version; name one with --version (latest: v{m.LatestVersion})");
        var found = m.Versions.FirstOrDefault(x => x.Version == v)
            ?? throw new UserErrorException($"{id} v{v} is not registered (versions: {string.Join(", ", m.Versions.Select(x => "v" + x.Version))})");
        return (v, found.ArtifactUri, found.Sha256, v == m.ProductionVersion);
    }

    private static async Task<(int Version, string Uri, string Sha256, bool Production)> FindOfflineAsync(string file, string id, int? wanted, CancellationToken ct)
    {
        await using var sp = OfflineDatabase.Open(file);
        var registry = sp.GetRequiredService<IModelRegistry>();
        var versions = await registry.ListVersionsAsync(id, ct);
        if (versions.Count == 0)
        {
            throw new UserErrorException($"model '{id}' is not registered in {file}");
        }

        var production = (await registry.GetProductionAsync(id, ct))?.Version;
        var catalog = new ModelCatalog
        {
            Models =
            [
                new CatalogModel
                {
                    ModelId = id, ProductionVersion = production, LatestVersion = versions.Max(x => x.Version),
                    Versions = versions.Select(x => new CatalogVersion
                    {
                        Version = x.Version, Architecture = x.Architecture, InputShape = x.InputShape, Classes = x.Classes,
                        Sha256 = x.Sha256, ArtifactUri = x.ArtifactUri, CreatedBy = x.CreatedBy,
                    }).ToList(),
                },
            ],
        };
        return Find(catalog, id, wanted);
    }
}
