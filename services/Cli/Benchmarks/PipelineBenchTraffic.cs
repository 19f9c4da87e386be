using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using Pipeline.Contracts;
using Pipeline.Artifacts;
using Pipeline.ML.Data;
using Pipeline.ML.Models;
using Pipeline.Storage.Artifacts;
using Pipeline.Storage.Repositories;

namespace Pipeline.Cli.Benchmarks;

/// <summary>
/// What a run needs before it starts, done the way a user would: the model registered over the bus, and labelled
/// production traffic through the inference API (predict, then feedback) on the version in production.
/// </summary>
public sealed class PipelineBenchTraffic(HttpClient inference, IBus bus, IObservationRepository observations, string modelId, string user)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>AMQP user_id on everything the bench sends: the services take it as the operator (RabbitMQ validates it).</summary>
    public void AsUser<T>(SendContext<T> context)
        where T : class
    {
        if (context.TryGetPayload<RabbitMqSendContext>(out var amqp))
        {
            amqp.BasicProperties.UserId = user;
        }
    }

    /// <summary>Uploads the model and its reference rows, registers and deploys them; returns the version.</summary>
    public async Task<int> RegisterAsync(ModelBundle model, ImageDataset reference, IArtifactStore artifacts, CancellationToken ct)
    {
        var uploaded = await artifacts.PutWrittenAsync(model.Save, "uploads", $"{user}/{modelId}/base.model", ct);

        var rows = Blob(reference);
        var data = await artifacts.PutAsync(rows.ToBytes(), "uploads", $"{user}/{modelId}/reference.pfb", ct);
        var client = bus.CreateRequestClient<RegisterModel>(RequestTimeout.After(s: 120));
        try
        {
            var response = await client.GetResponse<ModelVersionRegistered>(new RegisterModel
            {
                ModelId = modelId, Deploy = true, Reason = "bench pipeline",
                ModelFile = uploaded.ToPayload(),
                ReferenceData = data.ToPayload(),
            }, x => x.UseExecute(AsUser), ct);
            return response.Message.Version;
        }
        catch (RequestTimeoutException)
        {
            throw new PipelineBenchException("the deployment service did not answer RegisterModel within 120 s (see deployment.log)");
        }
    }

    /// <summary>Waits until the inference service serves <paramref name="version"/> (it hot-swaps on ModelDeployed).</summary>
    public async Task WaitServedAsync(int version, TimeSpan within, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var model = await inference.GetFromJsonAsync<JsonElement>("/model", ct);
                if (model.TryGetProperty("version", out var v) && v.GetInt32() == version)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not loaded yet (503)
            }

            await Task.Delay(100, ct);
        }

        throw new PipelineBenchException($"the inference service did not serve v{version} within {within.TotalSeconds:0} s");
    }

    /// <summary>Predicts <paramref name="rows"/> and sends their true labels back; returns the version that answered.</summary>
    public async Task<int> SendLabelledAsync(ImageDataset rows, CancellationToken ct)
    {
        using var predict = await inference.PostAsJsonAsync("/predict", new { instances = rows.ToFeatureVectors() }, ct);
        if (!predict.IsSuccessStatusCode)
        {
            throw new PipelineBenchException($"POST /predict answered {(int)predict.StatusCode}: {await predict.Content.ReadAsStringAsync(ct)}");
        }

        var body = await predict.Content.ReadFromJsonAsync<PredictResponse>(Json, ct)
            ?? throw new PipelineBenchException("POST /predict answered nothing");
        var labels = rows.LabelArray().Select(l => (int)l).ToArray();
        using var feedback = await inference.PostAsJsonAsync("/feedback", new { batchId = body.BatchId, labels }, ct);
        if (!feedback.IsSuccessStatusCode)
        {
            throw new PipelineBenchException($"POST /feedback answered {(int)feedback.StatusCode}: {await feedback.Content.ReadAsStringAsync(ct)}");
        }

        return body.Version;
    }

    /// <summary>Waits until drift detection has stored <paramref name="needed"/> labelled rows of the version (scoring reads them).</summary>
    public async Task WaitLabelledAsync(int version, int needed, TimeSpan within, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + within;
        var have = 0;
        while (DateTime.UtcNow < deadline)
        {
            var batches = await observations.ListLabelledBatchesAsync(modelId, 1000, null, ct);
            have = batches.Where(b => b.ModelVersion == version && b.Labels is not null).Sum(b => b.Labels!.Count(l => l >= 0));
            if (have >= needed)
            {
                return;
            }

            await Task.Delay(100, ct);
        }

        throw new PipelineBenchException($"drift detection stored {have} of {needed} labelled rows of v{version} within {within.TotalSeconds:0} s");
    }

    public static FeatureBlob Blob(ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var vectors = data.ToFeatureVectors();
        var columns = vectors.Length == 0 ? 0 : vectors[0].Length;
        var features = new float[vectors.Length * columns];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i].CopyTo(features, i * columns);
        }

        return new FeatureBlob(vectors.Length, columns, features, data.LabelArray().Select(l => (int)l).ToArray());
    }
}

/// <summary>The bench cannot go on (a run stalled or ended otherwise than deployed, a service exited): one line for the user.</summary>
public sealed class PipelineBenchException(string message) : Exception(message);
