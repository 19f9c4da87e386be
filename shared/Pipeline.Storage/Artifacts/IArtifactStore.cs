namespace Pipeline.Storage.Artifacts;

/// <summary>A stored artifact: where it is, its SHA-256 (lower-case hex) and size.</summary>
/// <param name="Uri">URI, <c>artifact://{kind}/{name}</c>.</param>
/// <param name="Sha256">SHA-256 of the content, 64 lower-case hex characters.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record ArtifactRef(string Uri, string Sha256, long Size);

/// <summary>
/// Content store for large artifacts (model weights, masks, reference profiles, observation
/// batches). Messages carry the URI plus SHA-256; readers verify before use.
/// </summary>
public interface IArtifactStore
{
    /// <summary>
    /// Writes <paramref name="content"/> atomically (temp file + rename) as <c>{kind}/{name}</c>,
    /// replacing an existing artifact of the same name. <paramref name="name"/> may contain '/'
    /// separated segments; '..', '.', empty segments, backslashes, ':' and rooted names are rejected
    /// with <see cref="ArgumentException"/>.
    /// </summary>
    Task<ArtifactRef> PutAsync(Stream content, string kind, string name, CancellationToken cancellationToken = default);

    /// <summary>Writes bytes; see <see cref="PutAsync(Stream, string, string, CancellationToken)"/>.</summary>
    Task<ArtifactRef> PutAsync(ReadOnlyMemory<byte> content, string kind, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens an artifact for reading after verifying its SHA-256; the returned stream verifies the
    /// hash again as it is read to the end (guards against changes after the check). Throws
    /// <see cref="ArtifactNotFoundException"/> or <see cref="ArtifactIntegrityException"/>.
    /// </summary>
    Task<Stream> OpenVerifiedAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default);

    /// <summary>Reads a whole artifact after verifying its SHA-256.</summary>
    Task<byte[]> ReadAllBytesVerifiedAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default);

    /// <summary>
    /// Verifies the SHA-256 and returns the absolute local path (for loaders that need a file path,
    /// e.g. TorchSharp). Artifacts are written by rename, so the file is not changed in place by the store.
    /// </summary>
    Task<string> GetVerifiedLocalPathAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default);

    /// <summary>Computes the reference (hash and size) of an existing artifact.</summary>
    Task<ArtifactRef> GetInfoAsync(string uri, CancellationToken cancellationToken = default);

    /// <summary>True when the artifact exists.</summary>
    bool Exists(string uri);

    /// <summary>Deletes an artifact; false when it did not exist.</summary>
    bool Delete(string uri);
}
