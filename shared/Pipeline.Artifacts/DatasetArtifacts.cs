using Pipeline.Contracts;
using Pipeline.ML.Data;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Artifacts;

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
        return stored.ToPayload();
    }

    /// <summary>A labelled blob as a dataset for the ML core, each row reshaped to <paramref name="inputShape"/>.</summary>
    public static ImageDataset ToDataset(FeatureBlob blob, IReadOnlyList<int> inputShape)
    {
        if (blob.Labels is null)
        {
            throw new InvalidDataException("dataset needs labels");
        }

        var length = Features.Length(inputShape);
        if (blob.Columns != length)
        {
            throw new InvalidDataException($"expected {length} features per row (input shape [{string.Join(", ", inputShape)}]), got {blob.Columns}");
        }

        var rows = new float[blob.Rows][];
        for (var i = 0; i < blob.Rows; i++)
        {
            rows[i] = blob.Row(i).ToArray();
        }

        return ImageDataset.FromFeatureVectors(rows, blob.Labels.Select(l => (long)l).ToArray(), inputShape);
    }

    /// <summary>A dataset as a labelled blob (rows flattened row-major).</summary>
    public static FeatureBlob FromDataset(ImageDataset data)
    {
        var rows = data.ToFeatureVectors();
        var width = rows.Length == 0 ? Features.Length(data.InputShape) : rows[0].Length;
        var flat = new float[rows.Length * width];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i].CopyTo(flat, i * width);
        }

        return new FeatureBlob(rows.Length, width, flat, data.LabelArray().Select(l => (int)l).ToArray());
    }
}
