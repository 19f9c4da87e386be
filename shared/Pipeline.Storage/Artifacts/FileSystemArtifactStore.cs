using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Pipeline.Storage.Artifacts;

/// <summary>
/// <see cref="IArtifactStore"/> over a directory (a shared volume under compose). An artifact
/// <c>artifact://models/foo/2/model.bin</c> lives at <c>{root}/models/foo/2/model.bin</c>.
/// </summary>
public sealed class FileSystemArtifactStore : IArtifactStore
{
    /// <summary>URI scheme prefix.</summary>
    public const string Scheme = "artifact://";

    private const int BufferSize = 81920;
    private readonly string _root;

    /// <summary>Creates a store from options (<see cref="StorageOptions.ArtifactRoot"/>).</summary>
    public FileSystemArtifactStore(IOptions<StorageOptions> options)
        : this((options ?? throw new ArgumentNullException(nameof(options))).Value.ArtifactRoot)
    {
    }

    /// <summary>Creates a store rooted at <paramref name="root"/> (created when missing).</summary>
    public FileSystemArtifactStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    /// <summary>Absolute root directory.</summary>
    public string Root => _root;

    /// <summary>Builds the URI of <c>{kind}/{name}</c> (validating both).</summary>
    public static string BuildUri(string kind, string name) => Scheme + ValidateRelative(kind, name);

    /// <inheritdoc />
    public async Task<ArtifactRef> PutAsync(Stream content, string kind, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var relative = ValidateRelative(kind, name);
        var target = ToFullPath(relative);
        var directory = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
            {
                var buffer = new byte[BufferSize];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    size += read;
                }

                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: true);
            return new ArtifactRef(Scheme + relative, Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task<ArtifactRef> PutAsync(ReadOnlyMemory<byte> content, string kind, string name, CancellationToken cancellationToken = default)
    {
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        return await PutAsync(stream, kind, name, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<Stream> OpenVerifiedAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default)
    {
        var expected = NormaliseSha(expectedSha256);
        var path = await VerifyAsync(uri, expected, cancellationToken).ConfigureAwait(false);
        var stream = OpenRead(uri, path);
        return new VerifyingReadStream(stream, uri, expected);
    }

    /// <inheritdoc />
    public async Task<byte[]> ReadAllBytesVerifiedAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default)
    {
        var expected = NormaliseSha(expectedSha256);
        var path = ResolveExisting(uri);
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw Mismatch(uri, expected, actual);
        }

        return bytes;
    }

    /// <inheritdoc />
    public Task<string> GetVerifiedLocalPathAsync(string uri, string expectedSha256, CancellationToken cancellationToken = default) =>
        VerifyAsync(uri, NormaliseSha(expectedSha256), cancellationToken);

    /// <inheritdoc />
    public async Task<ArtifactRef> GetInfoAsync(string uri, CancellationToken cancellationToken = default)
    {
        var path = ResolveExisting(uri);
        await using var stream = OpenRead(uri, path);
        var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        return new ArtifactRef(Scheme + ToRelative(uri), sha, stream.Length);
    }

    /// <inheritdoc />
    public bool Exists(string uri) => File.Exists(ToFullPath(ToRelative(uri)));

    /// <inheritdoc />
    public bool Delete(string uri)
    {
        var path = ToFullPath(ToRelative(uri));
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    /// <summary>Absolute path of an artifact URI (validated; the file need not exist).</summary>
    public string GetLocalPath(string uri) => ToFullPath(ToRelative(uri));

    private async Task<string> VerifyAsync(string uri, string expected, CancellationToken ct)
    {
        var path = ResolveExisting(uri);
        await using var stream = OpenRead(uri, path);
        var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw Mismatch(uri, expected, actual);
        }

        return path;
    }

    private string ResolveExisting(string uri)
    {
        var path = ToFullPath(ToRelative(uri));
        if (!File.Exists(path))
        {
            throw new ArtifactNotFoundException($"Artifact {uri} does not exist.") { Uri = uri };
        }

        return path;
    }

    private static FileStream OpenRead(string uri, string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, BufferSize, useAsync: true);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArtifactNotFoundException($"Artifact {uri} does not exist.", ex) { Uri = uri };
        }
    }

    internal static ArtifactIntegrityException Mismatch(string uri, string expected, string actual) =>
        new($"Artifact {uri} failed SHA-256 verification: expected {expected}, got {actual}.")
        {
            Uri = uri,
            ExpectedSha256 = expected,
            ActualSha256 = actual,
        };

    private string ToFullPath(string relative)
    {
        var full = Path.GetFullPath(Path.Combine(_root, relative.Replace('/', Path.DirectorySeparatorChar)));
        var rootWithSep = _root.EndsWith(Path.DirectorySeparatorChar) ? _root : _root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Artifact path escapes the store root: {relative}");
        }

        return full;
    }

    private static string ToRelative(string uri)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        var relative = uri.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? uri[Scheme.Length..] : uri;
        var slash = relative.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            throw new ArgumentException($"Artifact URI must look like {Scheme}kind/name: {uri}", nameof(uri));
        }

        return ValidateRelative(relative[..slash], relative[(slash + 1)..]);
    }

    private static string ValidateRelative(string kind, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ValidateSegment(kind, nameof(kind), kind);
        if (name.StartsWith('/') || Path.IsPathRooted(name))
        {
            throw new ArgumentException($"Artifact name must be relative: {name}", nameof(name));
        }

        foreach (var segment in name.Split('/'))
        {
            ValidateSegment(segment, nameof(name), name);
        }

        return kind + "/" + name;
    }

    private static void ValidateSegment(string segment, string parameter, string whole)
    {
        if (segment.Length == 0 || segment == "." || segment == ".." || segment.Length > 200)
        {
            throw new ArgumentException($"Invalid artifact path segment in '{whole}'.", parameter);
        }

        foreach (var ch in segment)
        {
            var ok = char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' or '+' or '=' or '@';
            if (!ok)
            {
                throw new ArgumentException($"Invalid character '{ch}' in artifact path '{whole}'.", parameter);
            }
        }

        if (segment.StartsWith('.') && segment.EndsWith(".tmp", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Artifact names may not look like temp files: '{whole}'.", parameter);
        }
    }

    private static string NormaliseSha(string sha)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sha);
        var trimmed = sha.Trim();
        if (trimmed.Length != 64 || !trimmed.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException("Expected SHA-256 must be 64 hex characters.", nameof(sha));
        }

        return trimmed.ToLowerInvariant();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
