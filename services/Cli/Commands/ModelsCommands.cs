using System.CommandLine;
using System.Globalization;
using Pipeline.Contracts;
using Pipeline.Artifacts;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>models register|list|show|versions|export</c>: requests to the service that owns the registry (Deployment), over
/// RabbitMQ. Register uploads the files to the artifact store the services share, then sends RegisterModel.
/// </summary>
public static class ModelsCommands
{

    public static Command Create()
    {
        var models = new Command("models", "Register your own models and list the registry");
        models.Subcommands.Add(Register());
        models.Subcommands.Add(List());
        models.Subcommands.Add(Show("show", "A model's production and latest version, with its input, classes and reference data"));
        models.Subcommands.Add(Show("versions", "Every version of a model: status (production, rolled back, rejected, lost tournament…), run and strategy"));
        models.Subcommands.Add(ModelsExportCommand.Create());
        return models;
    }

    private static Command Register()
    {
        var model = new Argument<string>("model") { Description = "Model id (1-64 of a-z, 0-9, '.', '_', '-')" };
        var file = new Option<string>("--file") { Description = "TorchScript file saved by torch.jit.save (or a pipeline model file)", Required = true };
        var manifest = new Option<string?>("--manifest") { Description = "Manifest JSON of a TorchScript file (docs/models.md)" };
        var images = new Option<string?>("--reference-images") { Description = "IDX images of the original distribution (image models)" };
        var labels = new Option<string?>("--reference-labels") { Description = "IDX labels of --reference-images" };
        var csv = new Option<string?>("--reference-csv") { Description = "CSV rows of the original distribution (tabular models)" };
        var labelColumn = new Option<string?>("--label-column") { Description = "Label column of --reference-csv (class name or index)" };
        var deploy = new Option<bool>("--deploy") { Description = "Put the registered version in production (needs the approver role)" };
        var allowSmall = new Option<bool>("--allow-small-reference")
        {
            Description = "Register even when the reference data cannot fill the gate's holdout and replay set (the gate will not decide until it can)",
        };
        var reason = new Option<string>("--reason") { Description = "Recorded in the audit trail", DefaultValueFactory = _ => "registered with pipelinectl" };
        var artifacts = new Option<string?>("--artifacts") { Description = "Artifact store the services read (default $Storage__ArtifactRoot or .pipeline/artifacts)" };
        var cmd = Ctl.WithConnection(new Command("register", "Register a model version with its reference data (over RabbitMQ)")
        {
            model, file, manifest, images, labels, csv, labelColumn, deploy, allowSmall, reason, artifacts,
        }, timeoutSeconds: 120);
        cmd.SetAction(async (r, ct) =>
        {
            var id = r.GetValue(model)!;
            var path = r.GetValue(file)!;
            var manifestPath = r.GetValue(manifest);
            try
            {
                if (!Pipeline.Contracts.Validation.Rules.IsValidModelId(id)) return Fail($"model id '{id}' must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
                if (!File.Exists(path)) return Fail($"--file {path} does not exist");
                var parsed = manifestPath is null ? null : ModelManifest.Load(manifestPath);
                if (parsed is not null && parsed.Name != id)
                {
                    return Fail($"the manifest's name is '{parsed.Name}' but the model id is '{id}': register it as '{parsed.Name}', or set \"name\": \"{id}\" in {manifestPath}");
                }

                var info = parsed is not null ? ModelInfo.FromManifest(parsed) : ReadPipelineModel(path);
                var (imagesPath, labelsPath, csvPath, column) = (r.GetValue(images), r.GetValue(labels), r.GetValue(csv), r.GetValue(labelColumn));
                LabelledRows rows;
                if (csvPath is not null)
                {
                    if (imagesPath is not null || labelsPath is not null) return Fail("give either --reference-csv or --reference-images/--reference-labels");
                    if (column is null) return Fail("--reference-csv needs --label-column");
                    rows = LabelledRows.FromCsv(csvPath, column, info);
                }
                else if (imagesPath is not null && labelsPath is not null)
                {
                    rows = LabelledRows.FromIdx(imagesPath, labelsPath, info);
                }
                else
                {
                    return Fail("reference data is required: --reference-images F --reference-labels F, or --reference-csv F --label-column C");
                }

                var store = new FileSystemArtifactStore(r.GetValue(artifacts) ?? DefaultArtifactRoot());
                var broker = Ctl.Broker(r);
                // Under the operator's own name: the registry reads only the sender's uploads (and deletes them on a refusal).
                var upload = $"{broker.User}/{id}/{Guid.NewGuid():N}";
                ArtifactRef modelRef;
                await using (var stream = File.OpenRead(path))
                {
                    modelRef = await store.PutAsync(stream, "uploads", $"{upload}/{Path.GetFileName(path)}", ct);
                }

                var blob = new FeatureBlob(rows.Rows, rows.Columns, rows.Features, rows.Labels);
                var dataRef = await store.PutAsync(blob.ToBytes(), "uploads", $"{upload}/reference.pfb", ct);
                var command = new RegisterModel
                {
                    ModelId = id,
                    ModelFile = new PayloadRef { Uri = modelRef.Uri, Sha256 = modelRef.Sha256, SizeBytes = modelRef.Size },
                    Manifest = manifestPath is null ? null : await File.ReadAllTextAsync(manifestPath, ct),
                    ReferenceData = new PayloadRef { Uri = dataRef.Uri, Sha256 = dataRef.Sha256, SizeBytes = dataRef.Size },
                    Deploy = r.GetValue(deploy),
                    Reason = r.GetValue(reason)!,
                    AllowSmallReference = r.GetValue(allowSmall),
                    // One per invocation: a redelivery or retry of this command registers one version and deploys it once.
                    IdempotencyKey = Guid.NewGuid().ToString("N"),
                };
                var done = await OperatorClient.QueryAsync<RegisterModel, ModelVersionRegistered>(broker, command, Ctl.Deployment, Ctl.Timeout(r), ct);
                if (done.Warning is not null)
                {
                    Console.Error.WriteLine("warning: " + done.Warning);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"registered {done.ModelId} v{done.Version} ({done.Architecture}, input [{string.Join(", ", done.InputShape)}], {done.Classes.Count} classes, {rows.Rows} reference rows){(command.Deploy ? "; deployed" : "")}"));
                return 0;
            }
            catch (OperatorException ex)
            {
                return Fail(ex.Message, ex.ExitCode);
            }
            catch (Exception ex) when (ex is ModelValidationException or InvalidDataException or FileNotFoundException
                or ArtifactStoreException or IOException)
            {
                return Fail(ex.Message);
            }
        });
        return cmd;
    }

    private static Command List()
    {
        var cmd = Ctl.WithConnection(new Command("list", "Registered models with their production and latest versions"));
        cmd.SetAction((r, ct) => Ctl.RunAsync(async () =>
        {
            var catalog = await QueryAsync(r, null, ct);
            Console.WriteLine($"{"model",-24} {"production",10} {"latest",6}  architecture  input");
            foreach (var m in catalog.Models)
            {
                var latest = m.Versions.OrderBy(v => v.Version).LastOrDefault();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{m.ModelId,-24} {(m.ProductionVersion is { } p ? "v" + p : "-"),10} {(m.LatestVersion is { } l ? "v" + l : "-"),6}  {latest?.Architecture ?? "-",-12}  [{string.Join(", ", latest?.InputShape ?? [])}]"));
            }

            return 0;
        }));
        return cmd;
    }

    private static Command Show(string name, string description)
    {
        var model = Ctl.ModelArgument();
        var cmd = Ctl.WithConnection(new Command(name, description) { model });
        cmd.SetAction((r, ct) => Ctl.RunAsync(async () =>
        {
            var catalog = await QueryAsync(r, r.GetValue(model), ct);
            var m = catalog.Models.Single();
            Console.WriteLine($"{m.ModelId}: production {(m.ProductionVersion is { } p ? "v" + p : "none")}, latest {(m.LatestVersion is { } l ? "v" + l : "none")}");
            if (name == "versions")
            {
                ModelVersionsView.Print(m, await RunsOfAsync(r, m.ModelId, ct));
                return 0;
            }

            var versions = m.Versions.Where(v => v.Version == m.ProductionVersion || v.Version == m.LatestVersion).ToList();
            foreach (var v in versions)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  v{v.Version}  {v.Architecture}  input [{string.Join(", ", v.InputShape)}]  {v.Classes.Count} classes  {v.ParamsTotal:N0} parameters  by {v.CreatedBy} at {v.CreatedAt:u}  sha256 {v.Sha256[..12]}"));
                Console.WriteLine($"      classes: {string.Join(", ", v.Classes)}");
                Console.WriteLine($"      artifact: {v.ArtifactUri}");
                Console.WriteLine($"      metadata: {v.Metadata}");
            }

            return 0;
        }));
        return cmd;
    }

    /// <summary>The model's runs by id from the run owner; null when it does not answer (the versions still print).</summary>
    private static async Task<Dictionary<Guid, RunSummary>?> RunsOfAsync(ParseResult r, string modelId, CancellationToken ct)
    {
        try
        {
            var runs = await OperatorClient.QueryAsync<ListRuns, RunList>(Ctl.Broker(r), new ListRuns { ModelId = modelId, Limit = 1000 }, Ctl.AdaptationRuns, Ctl.Timeout(r), ct);
            return runs.Runs.ToDictionary(x => x.RunId);
        }
        catch (OperatorException)
        {
            return null;
        }
    }

    private static Task<ModelCatalog> QueryAsync(ParseResult r, string? modelId, CancellationToken ct) =>
        OperatorClient.QueryAsync<ListModels, ModelCatalog>(Ctl.Broker(r), new ListModels { ModelId = modelId }, Ctl.Deployment, Ctl.Timeout(r), ct);

    private static ModelInfo ReadPipelineModel(string path)
    {
        try
        {
            return ModelBundle.ReadInfo(path);
        }
        catch (InvalidDataException)
        {
            throw new ModelValidationException([$"{path} is not a pipeline model file; a TorchScript file needs --manifest"]);
        }
    }

    internal static string DefaultArtifactRoot() =>
        Environment.GetEnvironmentVariable("Storage__ArtifactRoot") is { Length: > 0 } a ? a
        : Environment.GetEnvironmentVariable("PIPELINE_Storage__ArtifactRoot") is { Length: > 0 } b ? b
        : Path.Combine(".pipeline", "artifacts");

    private static int Fail(string message, int exitCode = 1)
    {
        Console.Error.WriteLine("error: " + message);
        return exitCode;
    }
}
