using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.ML.Data;

/// <summary>An IDX array (the MNIST file format): its dimensions and its values as bytes or floats.</summary>
public sealed record IdxArray(int[] Dimensions, byte ElementType, byte[]? Bytes, float[]? Floats)
{
    /// <summary>Number of elements (product of the dimensions).</summary>
    public long Count => Dimensions.Aggregate(1L, (a, d) => a * d);
}

/// <summary>Reads and writes IDX files (raw or gzip-compressed; gzip is detected by its magic bytes).</summary>
public static class IdxReader
{
    /// <summary>IDX element type code for unsigned bytes.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>IDX element type code for big-endian float32.</summary>
    public const byte Float32 = 0x0D;

    /// <summary>Reads an IDX file; gzip is detected automatically.</summary>
    public static IdxArray Read(string path)
    {
        using var file = File.OpenRead(path);
        return Read(file);
    }

    /// <summary>Reads an IDX stream; gzip is detected automatically.</summary>
    public static IdxArray Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var raw = buffer.ToArray();
        if (raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b)
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var unzipped = new MemoryStream();
            gz.CopyTo(unzipped);
            raw = unzipped.ToArray();
        }
        return Parse(raw);
    }

    private static IdxArray Parse(byte[] raw)
    {
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0)
            throw new InvalidDataException("not an IDX file (bad magic number)");
        var type = raw[2];
        int rank = raw[3];
        if (rank < 1 || raw.Length < 4 + 4 * rank)
            throw new InvalidDataException("truncated IDX header");
        var dims = new int[rank];
        for (var i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4 + 4 * i, 4));
            if (dims[i] < 0) throw new InvalidDataException("negative IDX dimension");
        }
        var offset = 4 + 4 * rank;
        var count = dims.Aggregate(1L, (a, d) => a * d);
        switch (type)
        {
            case UnsignedByte:
                if (raw.Length - offset < count) throw new InvalidDataException("truncated IDX data");
                return new IdxArray(dims, type, raw.AsSpan(offset, (int)count).ToArray(), null);
            case Float32:
                if (raw.Length - offset < count * 4) throw new InvalidDataException("truncated IDX data");
                var floats = new float[count];
                for (var i = 0; i < count; i++)
                    floats[i] = BinaryPrimitives.ReadSingleBigEndian(raw.AsSpan(offset + 4 * i, 4));
                return new IdxArray(dims, type, null, floats);
            default:
                throw new InvalidDataException($"unsupported IDX element type 0x{type:X2} (supported: 0x08 ubyte, 0x0D float)");
        }
    }

    /// <summary>Writes unsigned-byte IDX data (optionally gzip-compressed). Used by tests and tools.</summary>
    public static void WriteBytes(string path, int[] dimensions, byte[] data, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(data);
        using var ms = new MemoryStream();
        ms.Write([0, 0, UnsignedByte, (byte)dimensions.Length]);
        Span<byte> b = stackalloc byte[4];
        foreach (var d in dimensions)
        {
            BinaryPrimitives.WriteInt32BigEndian(b, d);
            ms.Write(b);
        }
        ms.Write(data);
        using var file = File.Create(path);
        if (gzip)
        {
            using var gz = new GZipStream(file, CompressionLevel.Fastest);
            ms.Position = 0;
            ms.CopyTo(gz);
        }
        else
        {
            ms.Position = 0;
            ms.CopyTo(file);
        }
    }
}
