using Pipeline.Contracts;
using Pipeline.Hosting.Artifacts;
using Pipeline.ML.Data;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Adaptation;

/// <summary>Feature batches in the artifact store (FeatureBlob format), verified on every read.</summary>
public sealed class DatasetArtifacts(IArtifactStore artifacts)
{
    public async Task<FeatureBlob> LoadAsync(PayloadRef payload, CancellationToken ct) =>
        FeatureBlob.FromBytes(await artifacts.ReadAllBytesVerifiedAsync(payload.Uri, payload.Sha256, ct));

    public async Task<FeatureBlob> LoadAsync(string uri, string sha256, CancellationToken ct) =>
        FeatureBlob.FromBytes(await artifacts.ReadAllBytesVerifiedAsync(uri, sha256, ct));

    public async Task<PayloadRef> SaveAsync(FeatureBlob blob, string kind, string name, CancellationToken ct)
    {
        var stored = await artifacts.PutAsync(blob.ToBytes(), kind, name, ct);
        return new PayloadRef { Uri = stored.Uri, Sha256 = stored.Sha256, SizeBytes = stored.Size };
    }

    /// <summary>A labelled blob as an image dataset for the ML core.</summary>
    public static ImageDataset ToDataset(FeatureBlob blob)
    {
        if (blob.Labels is null)
        {
            throw new InvalidDataException("dataset needs labels");
        }

        if (blob.Columns != Features.Length)
        {
            throw new InvalidDataException($"expected {Features.Length} features per row (28×28), got {blob.Columns}");
        }

        var rows = new float[blob.Rows][];
        for (var i = 0; i < blob.Rows; i++)
        {
            rows[i] = blob.Row(i).ToArray();
        }

        return ImageDataset.FromFeatureVectors(rows, blob.Labels.Select(l => (long)l).ToArray());
    }

    /// <summary>An image dataset as a labelled blob.</summary>
    public static FeatureBlob FromDataset(ImageDataset data)
    {
        var rows = data.ToFeatureVectors();
        var flat = new float[rows.Length * Features.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i].CopyTo(flat, i * Features.Length);
        }

        return new FeatureBlob(rows.Length, Features.Length, flat, data.LabelArray().Select(l => (int)l).ToArray());
    }
}
