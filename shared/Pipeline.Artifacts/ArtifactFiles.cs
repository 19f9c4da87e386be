using Pipeline.Contracts;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Artifacts;

public static class ArtifactFiles
{
    /// <summary>
    /// Stores what a library writes only to a file path (TorchSharp weights, a sensitivity mask): written to a
    /// temporary file, put into the store, and the temporary file deleted whatever happens.
    /// </summary>
    public static async Task<ArtifactRef> PutWrittenAsync(this IArtifactStore artifacts, Action<string> write, string kind, string name, CancellationToken ct)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"pipeline-{kind}-{Guid.NewGuid():N}.bin");
        try
        {
            write(temp);
            await using var file = File.OpenRead(temp);
            return await artifacts.PutAsync(file, kind, name, ct);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>A stored artifact as messages name it.</summary>
    public static PayloadRef ToPayload(this ArtifactRef stored) => new() { Uri = stored.Uri, Sha256 = stored.Sha256, SizeBytes = stored.Size };
}
