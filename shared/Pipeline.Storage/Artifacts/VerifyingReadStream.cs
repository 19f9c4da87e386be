using System.Security.Cryptography;

namespace Pipeline.Storage.Artifacts;

/// <summary>Read-only stream that hashes what it reads and throws at end of stream on mismatch.</summary>
internal sealed class VerifyingReadStream : Stream
{
    private readonly Stream _inner;
    private readonly string _uri;
    private readonly string _expected;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _hashing = true;
    private bool _verified;

    public VerifyingReadStream(Stream inner, string uri, string expected)
    {
        _inner = inner;
        _uri = uri;
        _expected = expected;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _inner.Length;

    public override long Position
    {
        get => _inner.Position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return _inner.Read(buffer);
        }

        var read = _inner.Read(buffer);
        return Observe(buffer[..read], read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        var read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Observe(buffer.Span[..read], read);
    }

    private int Observe(ReadOnlySpan<byte> data, int read)
    {
        if (!_hashing)
        {
            return read;
        }

        if (read > 0)
        {
            _hash.AppendData(data);
            return read;
        }

        if (!_verified)
        {
            _verified = true;
            _hashing = false;
            var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
            if (!string.Equals(actual, _expected, StringComparison.Ordinal))
            {
                throw FileSystemArtifactStore.Mismatch(_uri, _expected, actual);
            }
        }

        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
