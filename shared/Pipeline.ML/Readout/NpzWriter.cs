using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Pipeline.ML.Readout;

/// <summary>
/// Writes NumPy's <c>.npz</c> format: a zip archive of <c>NAME.npy</c> entries, each the NPY 1.0 format (magic
/// <c>\x93NUMPY</c>, version 1.0, a little-endian uint16 header length, an ASCII Python-dict header padded with spaces
/// and ended by a newline so that the data starts at a multiple of 64 bytes, then the C-order little-endian data).
/// <c>numpy.load</c> reads it without pickle. Only the dtypes a readout needs: float64, float32, int64, bool and
/// fixed-width unicode strings.
/// </summary>
public sealed class NpzWriter
{
    private readonly List<(string Name, byte[] Npy)> arrays = [];

    /// <summary>Names added so far, in order.</summary>
    public IEnumerable<string> Names => arrays.Select(a => a.Name);

    /// <summary>A float64 array of <paramref name="shape"/> (C order; an empty shape is a scalar).</summary>
    public NpzWriter Add(string name, double[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var data = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(i * 8), values[i]);
        return Put(name, "<f8", shape, values.Length, data);
    }

    /// <summary>A float32 array of <paramref name="shape"/>.</summary>
    public NpzWriter Add(string name, float[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var data = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return Put(name, "<f4", shape, values.Length, data);
    }

    /// <summary>An int64 array of <paramref name="shape"/>.</summary>
    public NpzWriter Add(string name, long[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var data = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), values[i]);
        return Put(name, "<i8", shape, values.Length, data);
    }

    /// <summary>A bool scalar.</summary>
    public NpzWriter Add(string name, bool value) => Put(name, "|b1", [], 1, [value ? (byte)1 : (byte)0]);

    /// <summary>A unicode string scalar (numpy dtype <c>&lt;U n</c>: UTF-32 code points).</summary>
    public NpzWriter Add(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return AddStrings(name, [value], []);
    }

    /// <summary>A 1-D array of unicode strings (fixed width: the longest).</summary>
    public NpzWriter Add(string name, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddStrings(name, values, [values.Count]);
    }

    private NpzWriter AddStrings(string name, IReadOnlyList<string> values, long[] shape)
    {
        var runes = values.Select(v => v.EnumerateRunes().ToArray()).ToList();
        var width = Math.Max(1, runes.Count == 0 ? 1 : runes.Max(r => r.Length));
        var data = new byte[values.Count * width * 4];
        for (var i = 0; i < runes.Count; i++)
            for (var j = 0; j < runes[i].Length; j++)
                BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan((i * width + j) * 4), runes[i][j].Value);
        return Put(name, "<U" + width.ToString(CultureInfo.InvariantCulture), shape, values.Count, data);
    }

    private NpzWriter Put(string name, string descr, long[] shape, long count, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Any(c => c is '/' or '\\') || arrays.Any(a => a.Name == name))
            throw new ArgumentException($"array name '{name}' is empty, holds a path separator or is already used", nameof(name));
        var expected = shape.Aggregate(1L, (a, b) => a * b);
        if (expected != count) throw new ArgumentException($"{name}: {count} values for shape ({string.Join(", ", shape)})", nameof(shape));
        arrays.Add((name, Npy(descr, shape, data)));
        return this;
    }

    /// <summary>One array in the NPY 1.0 format.</summary>
    public static byte[] Npy(string descr, IReadOnlyList<long> shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        var dims = shape.Count switch
        {
            0 => "()",
            1 => $"({shape[0].ToString(CultureInfo.InvariantCulture)},)",
            _ => "(" + string.Join(", ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}";
        const int Preamble = 10; // magic (6) + version (2) + header length (2)
        var total = Preamble + dict.Length + 1;
        var padded = (total + 63) / 64 * 64;
        var header = dict + new string(' ', padded - total) + "\n";
        if (header.Length > ushort.MaxValue) throw new ArgumentException("npy header too long", nameof(shape));
        var result = new byte[Preamble + header.Length + data.Length];
        result[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY", result.AsSpan(1));
        result[6] = 1;
        result[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, result.AsSpan(Preamble));
        data.CopyTo(result.AsSpan(Preamble + header.Length));
        return result;
    }

    /// <summary>Writes the archive (atomically: a temporary file beside it, then a move).</summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var file = File.Create(temp))
            using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
            {
                foreach (var (name, npy) in arrays)
                {
                    var entry = zip.CreateEntry(name + ".npy", CompressionLevel.Optimal);
                    using var s = entry.Open();
                    s.Write(npy);
                }
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
