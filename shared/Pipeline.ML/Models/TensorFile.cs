using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.ML.Models;

/// <summary>
/// A simple, exact binary container: a magic string, a JSON metadata document and named tensors
/// (float32, float64, int16, bool or uint8) stored as raw little-endian bytes. Used for model and mask files.
/// </summary>
internal static class TensorFile
{
    public static void Write(string path, string magic, string metadataJson, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp-" + Environment.ProcessId;
        using (var file = File.Create(tmp))
        using (var w = new BinaryWriter(file, Encoding.UTF8))
        {
            w.Write(magic);
            w.Write(metadataJson);
            var list = tensors.ToList();
            w.Write(list.Count);
            foreach (var (name, tensor) in list)
            {
                using var t = tensor.detach().cpu().contiguous();
                w.Write(name);
                w.Write((int)t.dtype);
                w.Write((int)t.dim());
                foreach (var d in t.shape) w.Write(d);
                byte[] bytes = t.dtype switch
                {
                    ScalarType.Float32 => MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan()).ToArray(),
                    ScalarType.Float64 => MemoryMarshal.AsBytes(t.data<double>().ToArray().AsSpan()).ToArray(),
                    ScalarType.Int16 => MemoryMarshal.AsBytes(t.data<short>().ToArray().AsSpan()).ToArray(),
                    ScalarType.Bool => t.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray(),
                    ScalarType.Byte => t.data<byte>().ToArray(),
                    _ => throw new NotSupportedException($"dtype {t.dtype} not supported in tensor files"),
                };
                w.Write(bytes.LongLength);
                w.Write(bytes);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static (string Metadata, List<(string Name, Tensor Tensor)> Tensors) Read(string path, string magic) =>
        Read(path, [magic]).File;

    /// <summary>Reads a file whose magic is any of <paramref name="magics"/> (the first names the format in errors); returns the magic found.</summary>
    public static ((string Metadata, List<(string Name, Tensor Tensor)> Tensors) File, string Magic) Read(string path, IReadOnlyList<string> magics)
    {
        var magic = magics[0];
        using var file = File.OpenRead(path);
        using var r = new BinaryReader(file, Encoding.UTF8);
        string head;
        try
        {
            head = r.ReadString();
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: not a {magic} file");
        }
        if (!magics.Contains(head)) throw new InvalidDataException($"{path}: not a {magic} file");
        var meta = r.ReadString();
        var count = r.ReadInt32();
        var tensors = new List<(string, Tensor)>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString();
            var dtype = (ScalarType)r.ReadInt32();
            var rank = r.ReadInt32();
            var shape = new long[rank];
            for (var d = 0; d < rank; d++) shape[d] = r.ReadInt64();
            var len = r.ReadInt64();
            var bytes = r.ReadBytes(checked((int)len));
            if (bytes.Length != len) throw new InvalidDataException($"{path}: truncated tensor {name}");
            Tensor t = dtype switch
            {
                ScalarType.Float32 => torch.tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), shape),
                ScalarType.Float64 => torch.tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray(), shape),
                ScalarType.Int16 => torch.tensor(MemoryMarshal.Cast<byte, short>(bytes).ToArray(), shape),
                ScalarType.Bool => torch.tensor(bytes.Select(b => b != 0).ToArray(), shape),
                ScalarType.Byte => torch.tensor(bytes, shape),
                _ => throw new InvalidDataException($"{path}: unsupported dtype {dtype}"),
            };
            tensors.Add((name, t));
        }
        return ((meta, tensors), head);
    }
}
