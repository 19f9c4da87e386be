using System.Security.Cryptography;
using System.Text;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Storage.Tests;

public sealed class ArtifactStoreTests : IDisposable
{
    private readonly string _root = TestDatabase.NewTempDirectory();
    private readonly FileSystemArtifactStore _store;

    public ArtifactStoreTests() => _store = new FileSystemArtifactStore(Path.Combine(_root, "artifacts"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    [Fact]
    public async Task Put_and_open_verified_round_trip()
    {
        var data = RandomNumberGenerator.GetBytes(300_000);
        var reference = await _store.PutAsync(new MemoryStream(data), "models", "fmnist/2/model.bin");
        Assert.Equal("artifact://models/fmnist/2/model.bin", reference.Uri);
        Assert.Equal(Sha(data), reference.Sha256);
        Assert.Equal(data.Length, reference.Size);
        Assert.True(File.Exists(Path.Combine(_root, "artifacts", "models", "fmnist", "2", "model.bin")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, "artifacts"), "*.tmp", SearchOption.AllDirectories));

        await using (var stream = await _store.OpenVerifiedAsync(reference.Uri, reference.Sha256.ToUpperInvariant()))
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.Equal(data, copy.ToArray());
        }

        Assert.Equal(data, await _store.ReadAllBytesVerifiedAsync(reference.Uri, reference.Sha256));
        var path = await _store.GetVerifiedLocalPathAsync(reference.Uri, reference.Sha256);
        Assert.True(Path.IsPathRooted(path));
        Assert.Equal(data, await File.ReadAllBytesAsync(path));
        Assert.Equal(reference, await _store.GetInfoAsync("models/fmnist/2/model.bin"));
        Assert.True(_store.Exists(reference.Uri));
    }

    [Fact]
    public async Task Bytes_overload_overwrites_atomically_and_delete_works()
    {
        var a = await _store.PutAsync(Encoding.UTF8.GetBytes("first"), "profiles", "m/1.json");
        var b = await _store.PutAsync(Encoding.UTF8.GetBytes("second"), "profiles", "m/1.json");
        Assert.Equal(a.Uri, b.Uri);
        Assert.NotEqual(a.Sha256, b.Sha256);
        Assert.Equal("second", Encoding.UTF8.GetString(await _store.ReadAllBytesVerifiedAsync(b.Uri, b.Sha256)));
        await Assert.ThrowsAsync<ArtifactIntegrityException>(() => _store.ReadAllBytesVerifiedAsync(a.Uri, a.Sha256));
        Assert.True(_store.Delete(b.Uri));
        Assert.False(_store.Delete(b.Uri));
        Assert.False(_store.Exists(b.Uri));
    }

    [Fact]
    public async Task Tampered_file_is_detected()
    {
        var data = Encoding.UTF8.GetBytes("weights weights weights");
        var reference = await _store.PutAsync(data, "models", "m/1/model.bin");
        var path = _store.GetLocalPath(reference.Uri);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[3] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        var ex = await Assert.ThrowsAsync<ArtifactIntegrityException>(() => _store.OpenVerifiedAsync(reference.Uri, reference.Sha256));
        Assert.Equal(reference.Sha256, ex.ExpectedSha256);
        Assert.Equal(Sha(bytes), ex.ActualSha256);
        Assert.Equal(reference.Uri, ex.Uri);
        await Assert.ThrowsAsync<ArtifactIntegrityException>(() => _store.GetVerifiedLocalPathAsync(reference.Uri, reference.Sha256));
        await Assert.ThrowsAsync<ArtifactIntegrityException>(() => _store.ReadAllBytesVerifiedAsync(reference.Uri, reference.Sha256));
    }

    [Fact]
    public async Task Stream_detects_change_after_open()
    {
        var data = new byte[200_000];
        var reference = await _store.PutAsync(data, "masks", "r/mask.bin");
        await using var stream = await _store.OpenVerifiedAsync(reference.Uri, reference.Sha256);
        var path = _store.GetLocalPath(reference.Uri);
        await using (var w = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            w.Position = 150_000;
            w.WriteByte(1);
        }

        await Assert.ThrowsAsync<ArtifactIntegrityException>(() => stream.CopyToAsync(Stream.Null));
    }

    [Fact]
    public async Task Missing_artifact_throws_not_found()
    {
        var sha = new string('0', 64);
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => _store.OpenVerifiedAsync("artifact://models/none/1/model.bin", sha));
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => _store.GetVerifiedLocalPathAsync("models/none/1/model.bin", sha));
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => _store.GetInfoAsync("models/none/1/model.bin"));
    }

    [Theory]
    [InlineData("models", "../escape.bin")]
    [InlineData("models", "a/../../escape.bin")]
    [InlineData("models", "/etc/passwd")]
    [InlineData("models", "a//b")]
    [InlineData("models", "a/./b")]
    [InlineData("models", "a\\..\\b")]
    [InlineData("..", "x.bin")]
    [InlineData("models/sub", "x.bin")]
    [InlineData("models", "c:evil")]
    [InlineData("models", "a/..")]
    public async Task Path_traversal_and_odd_names_are_rejected(string kind, string name)
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _store.PutAsync(new byte[] { 1 }, kind, name));
        Assert.Empty(Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("artifact://models/../../etc/passwd")]
    [InlineData("../secrets")]
    [InlineData("artifact://models")]
    [InlineData("/abs/path")]
    public async Task Reading_traversal_uris_is_rejected(string uri)
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _store.OpenVerifiedAsync(uri, new string('0', 64)));
        Assert.Throws<ArgumentException>(() => _store.Exists(uri));
    }

    [Fact]
    public async Task Expected_sha_must_be_hex()
    {
        var reference = await _store.PutAsync(new byte[] { 1, 2 }, "x", "y.bin");
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _store.OpenVerifiedAsync(reference.Uri, "abc"));
    }
}
