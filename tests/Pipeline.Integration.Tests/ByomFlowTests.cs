using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Pipeline.Artifacts;
using Pipeline.Cli.Commands;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Inference;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.ML.Tests;
using Pipeline.Storage.Repositories;

namespace Pipeline.Integration.Tests;

/// <summary>The five services plus Inference over HTTP: users' PyTorch models registered with pipelinectl.</summary>
public sealed class ByomWorld() : PipelineWorld("byom")
{
    public Uri InferenceUrl { get; private set; } = new("http://127.0.0.1");

    public string ArtifactRoot { get; private set; } = "";

    protected override IDictionary<string, string?> GateSettings => new Dictionary<string, string?>
    {
        // The flow is under test, not the gate's policy: any candidate is accepted.
        ["Gate:Mode"] = "Auto", ["Gate:MinGain"] = "-1", ["Gate:MaxForgetting"] = "1", ["Gate:MaxLatencyIncrease"] = "100",
        ["Inference:Device"] = "cpu", ["Inference:RefreshInterval"] = "00:00:00", ["Inference:ModelId"] = "byom-default",
        // This flow is about users' models end to end; whether a drift is harmful is DriftHarmTests' subject.
        ["DriftDetection:RequireHarm"] = "false",
        // The flow calls Inference as a client with its own key, as users do.
        ["Inference:Auth:ApiKeys:byom-tests"] = ApiKey,
    };

    /// <summary>The test client's inference API key (test-only).</summary>
    public const string ApiKey = "byom-tests-key-0123456789";

    /// <summary>An HTTP client of the inference API, with the test client's key.</summary>
    public HttpClient InferenceClient()
    {
        var http = new HttpClient { BaseAddress = InferenceUrl };
        http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return http;
    }

    /// <summary>The services' SQLite database (for pipelinectl's offline --db).</summary>
    public string DatabasePath { get; private set; } = "";

    private protected override async Task StartMoreAsync(ServiceHosts hosts, IDictionary<string, string?> settings)
    {
        ArtifactRoot = hosts.ArtifactRoot;
        DatabasePath = hosts.DatabasePath;
        (_, InferenceUrl) = await hosts.StartWebAsync([new InferenceModule()], settings, app =>
        {
            app.MapPipelineEndpoints();
            app.MapInferenceEndpoints();
        });
    }
}

public sealed class ByomFlowTests(ByomWorld world) : IClassFixture<ByomWorld>
{
    private static readonly TimeSpan Stage = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_pytorch_tabular_model_is_registered_served_adapted_and_handed_back_to_pytorch()
    {
        const string model = "byom-tabular";
        var dir = PyTorchModels.Directory;
        var exit = await RegisterAsync(model, "--file", Path.Combine(dir, "tabular.pt"), "--manifest", Path.Combine(dir, "tabular.json"),
            "--reference-csv", Path.Combine(dir, "tabular-reference.csv"), "--label-column", "label", "--deploy");
        Assert.Equal(0, exit);
        var registered = Assert.Single(await world.Get<IModelRegistry>().ListVersionsAsync(model));
        Assert.Equal("alice", registered.CreatedBy);
        Assert.Equal([8], registered.InputShape);

        using var http = world.InferenceClient();
        await WaitServedAsync(http, model, 1);
        var status = (await http.GetFromJsonAsync<ModelStatus>($"/models/{model}"))!;
        Assert.Equal(["x0", "x1", "x2", "x3", "x4", "x5", "plan", "region"], status.Features!);

        var reference = ReadCsv(Path.Combine(dir, "tabular-reference.csv"), 64);
        await AssertServiceMatchesPyTorchAsync(http, model, Path.Combine(dir, "tabular.pt"), reference.Rows, [8]);

        var bad = await PostAsync(http, $"/models/{model}/predict", new { instances = new[] { new float[7] } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("instances[0] has 7 values; every row must have 8 (input shape [8])", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var shifted = ReadCsv(Path.Combine(dir, "tabular-shifted.csv"), 500);
        await TrafficAsync(http, model, shifted.Rows, shifted.Labels);
        await AssertAdaptedAndHandedBackAsync(http, model, reference.Rows, [8]);
    }

    [Fact]
    public async Task A_pytorch_batch_norm_cnn_is_registered_served_adapted_and_handed_back_to_pytorch()
    {
        const string model = "byom-cnn";
        var dir = PyTorchModels.Directory;
        var data = FashionMnist.DefaultDirectory;
        var images = IdxReader.Read(Path.Combine(data, "t10k-images-idx3-ubyte.gz"));
        var labels = IdxReader.Read(Path.Combine(data, "t10k-labels-idx1-ubyte.gz"));
        var work = Directory.CreateTempSubdirectory("byom-cnn-").FullName;
        var refImages = Path.Combine(work, "ref-images.idx");
        var refLabels = Path.Combine(work, "ref-labels.idx");
        IdxReader.WriteBytes(refImages, [600, 28, 28], images.Bytes![..(600 * 784)], gzip: false);
        IdxReader.WriteBytes(refLabels, [600], labels.Bytes![..600], gzip: false);

        var exit = await RegisterAsync(model, "--file", Path.Combine(dir, "cnn.pt"), "--manifest", Path.Combine(dir, "cnn.json"),
            "--reference-images", refImages, "--reference-labels", refLabels, "--deploy");
        Assert.Equal(0, exit);
        using var http = world.InferenceClient();
        await WaitServedAsync(http, model, 1);

        using var all = FashionMnist.LoadIdx(Path.Combine(data, "t10k-images-idx3-ubyte.gz"), Path.Combine(data, "t10k-labels-idx1-ubyte.gz"));
        using var clean = all.Slice(600, 64);
        var cleanRows = clean.ToFeatureVectors();
        await AssertServiceMatchesPyTorchAsync(http, model, Path.Combine(dir, "cnn.pt"), cleanRows, [1, 28, 28]);

        using var source = all.Slice(1000, 500);
        // Inverted images: a shift no 100-row window can miss (rotate-30 moves about a third of the pooled features).
        using var shifted = DriftScenario.Parse("invert").Apply(source, 3);
        await TrafficAsync(http, model, shifted.ToFeatureVectors(), shifted.LabelArray().Select(l => (int)l).ToArray());
        await AssertAdaptedAndHandedBackAsync(http, model, cleanRows, [1, 28, 28]);
    }

    [Fact]
    public async Task A_manifest_that_does_not_fit_the_module_is_refused_with_the_reason_and_nothing_is_registered()
    {
        const string model = "byom-refused";
        var dir = PyTorchModels.Directory;
        var work = Directory.CreateTempSubdirectory("byom-bad-").FullName;
        var manifest = Path.Combine(work, "bad.json");
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(Path.Combine(dir, "tabular.json"))).Replace("\"head\"", "\"fc\"", StringComparison.Ordinal)
            .Replace("\"byom-tabular\"", $"\"{model}\"", StringComparison.Ordinal));
        var error = new StringWriter();
        var exit = await RegisterAsync(model, error, "--file", Path.Combine(dir, "tabular.pt"), "--manifest", manifest,
            "--reference-csv", Path.Combine(dir, "tabular-reference.csv"), "--label-column", "label");
        Assert.Equal(1, exit);
        Assert.Contains("classifier_prefix 'fc' names no parameter", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(await world.Get<IModelRegistry>().ListVersionsAsync(model));
    }

    private Task<int> RegisterAsync(string model, params string[] args) => RegisterAsync(model, null, args);

    /// <summary>Runs <c>pipelinectl models register</c> in-process against the test broker as operator alice.</summary>
    private async Task<int> RegisterAsync(string model, StringWriter? error, params string[] args)
    {
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_HOST", Broker.Host);
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_PORT", Broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Environment.SetEnvironmentVariable("PIPELINE_AMQP_VHOST", Broker.VirtualHost);
        var root = new RootCommand();
        root.Subcommands.Add(ModelsCommands.Create());
        string[] all = ["models", "register", model, .. args, "--artifacts", world.ArtifactRoot, "--user", "alice", "--password", "alice"];
        var saved = Console.Error;
        if (error is not null) Console.SetError(error);
        try
        {
            return await root.Parse(all).InvokeAsync();
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    private static async Task WaitServedAsync(HttpClient http, string model, int version)
    {
        var until = DateTime.UtcNow + Stage;
        while (DateTime.UtcNow < until)
        {
            var response = await http.GetAsync($"/models/{model}");
            if (response.IsSuccessStatusCode && (await response.Content.ReadFromJsonAsync<ModelStatus>())!.Version >= version) return;
            await Task.Delay(200);
        }

        throw new TimeoutException($"inference did not serve {model} v{version}");
    }

    private static async Task<PredictResponse> PredictAsync(HttpClient http, string model, IReadOnlyList<float[]> rows)
    {
        var response = await PostAsync(http, $"/models/{model}/predict", new { instances = rows });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, string path, object body) =>
        http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));

    /// <summary>The service's probabilities equal softmax of PyTorch's own logits on the same rows (1e-4).</summary>
    private static async Task AssertServiceMatchesPyTorchAsync(HttpClient http, string model, string torchScript, IReadOnlyList<float[]> rows, int[] shape)
    {
        var served = await PredictAsync(http, model, rows);
        // load_adapted.load: the TorchScript module, with the readout beside it when the version has one.
        var logits = PyTorchModels.Predict(torchScript, rows.SelectMany(r => r).ToArray(), shape, adapted: true).Logits;
        var classes = served.Predictions[0].Probabilities.Length;
        for (var i = 0; i < rows.Count; i++)
        {
            var z = logits.AsSpan(i * classes, classes).ToArray();
            var max = z.Max();
            var e = z.Select(v => Math.Exp(v - max)).ToArray();
            var sum = e.Sum();
            for (var c = 0; c < classes; c++)
                Assert.True(Math.Abs(e[c] / sum - served.Predictions[i].Probabilities[c]) <= 1e-4, $"row {i} class {c}: {e[c] / sum} vs {served.Predictions[i].Probabilities[c]}");
        }
    }

    /// <summary>Shifted production traffic with the true labels fed back, as clients of the service send it.</summary>
    private static async Task TrafficAsync(HttpClient http, string model, IReadOnlyList<float[]> rows, IReadOnlyList<int> labels)
    {
        for (var s = 0; s < rows.Count; s += 100)
        {
            var n = Math.Min(100, rows.Count - s);
            var batch = await PredictAsync(http, model, rows.Skip(s).Take(n).ToList());
            var feedback = await PostAsync(http, $"/models/{model}/feedback", new { batchId = batch.BatchId, labels = labels.Skip(s).Take(n).ToArray() });
            Assert.Equal(HttpStatusCode.Accepted, feedback.StatusCode);
        }
    }

    /// <summary>Drift → run → v2 in production and served; v2 exported from the registry loads in PyTorch with the service's predictions.</summary>
    private async Task AssertAdaptedAndHandedBackAsync(HttpClient http, string model, IReadOnlyList<float[]> rows, int[] shape)
    {
        var detected = await world.Events.WaitAsync<DriftDetected>(d => d.ModelId == model, Stage);
        var deployed = await world.Events.WaitAsync<ModelDeployed>(d => d.RunId == detected.RunId, Stage);
        Assert.Equal(2, deployed.Version);
        await WaitServedAsync(http, model, 2);

        var (bundle, record) = await world.Get<ModelArtifacts>().LoadAsync(model, 2, "cpu", CancellationToken.None);
        using (bundle)
        {
            Assert.Equal("torchscript", record.Architecture);
            Assert.True(bundle.Info.Adaptations >= 1);
        }

        // pipelinectl models export: over the bus (the production version by default) and offline from the database.
        var overBus = Directory.CreateTempSubdirectory("byom-v2-").FullName;
        var exported = await Pipelinectl.RunAsync("models", "export", model, "--out", overBus, "--artifacts", world.ArtifactRoot, "--user", "alice", "--password", "alice");
        Assert.True(exported.Code == 0, exported.Err);
        Assert.Contains($"exported {model} v2 (production)", exported.Out, StringComparison.Ordinal);
        var manifest = ModelManifest.Load(Path.Combine(overBus, $"{model}-v2.json"));
        Assert.Equal(model, manifest.Name);
        await AssertServiceMatchesPyTorchAsync(http, model, Path.Combine(overBus, $"{model}-v2.pt"), rows, shape);
        var offline = Directory.CreateTempSubdirectory("byom-v2-offline-").FullName;
        exported = await Pipelinectl.RunAsync("models", "export", model, "--version", "2", "--db", world.DatabasePath, "--artifacts", world.ArtifactRoot, "--out", offline);
        Assert.True(exported.Code == 0, exported.Err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(overBus, $"{model}-v2.json")), File.ReadAllBytes(Path.Combine(offline, $"{model}-v2.json")));
        await AssertServiceMatchesPyTorchAsync(http, model, Path.Combine(offline, $"{model}-v2.pt"), rows, shape);
        var missing = await Pipelinectl.RunAsync("models", "export", model, "--version", "9", "--db", world.DatabasePath, "--artifacts", world.ArtifactRoot, "--out", offline);
        Assert.Equal(2, missing.Code);
        Assert.Equal($"error: {model} v9 is not registered (versions: v1, v2)", missing.Err.Trim());
    }

    private static (List<float[]> Rows, int[] Labels) ReadCsv(string path, int n)
    {
        var manifest = ModelManifest.Load(Path.Combine(PyTorchModels.Directory, "tabular.json"));
        var (rows, labels) = LabelledCsv.Read(path, manifest.Features!.Select(f => f.Name).ToList(), "label", manifest.Classes!);
        return (rows.Take(n).ToList(), labels.Take(n).Select(l => (int)l).ToArray());
    }
}
