using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Pipeline.Artifacts;

/// <summary>
/// A batch of float32 feature rows with optional int labels, as stored in the artifact store for
/// observation batches, adaptation sets and holdouts. Layout (little-endian): "PFB1", int32 rows,
/// int32 columns, int32 hasLabels (0/1), rows × columns float32, then rows × int32 labels.
/// </summary>
public sealed class FeatureBlob
{
    private static ReadOnlySpan<byte> Magic => "PFB1"u8;

    public FeatureBlob(int rows, int columns, float[] features, int[]? labels = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (features.Length != (long)rows * columns)
        {
            throw new ArgumentException($"expected {rows} × {columns} features, got {features.Length}", nameof(features));
        }

        if (labels is not null && labels.Length != rows)
        {
            throw new ArgumentException($"expected {rows} labels, got {labels.Length}", nameof(labels));
        }

        Rows = rows;
        Columns = columns;
        Features = features;
        Labels = labels;
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Row-major features.</summary>
    public float[] Features { get; }

    public int[]? Labels { get; }

    public ReadOnlySpan<float> Row(int i) => Features.AsSpan(i * Columns, Columns);

    public FeatureBlob WithLabels(int[] labels) => new(Rows, Columns, Features, labels);

    /// <summary>Rows concatenated in order; all parts must have the same width and all or none labels.</summary>
    public static FeatureBlob Concat(IReadOnlyList<FeatureBlob> parts)
    {
        if (parts.Count == 0)
        {
            throw new ArgumentException("nothing to concatenate", nameof(parts));
        }

        var columns = parts[0].Columns;
        if (parts.Any(p => p.Columns != columns))
        {
            throw new ArgumentException("feature widths differ", nameof(parts));
        }

        var labelled = parts.All(p => p.Labels is not null);
        var rows = parts.Sum(p => p.Rows);
        var features = new float[(long)rows * columns];
        var labels = labelled ? new int[rows] : null;
        var at = 0;
        foreach (var p in parts)
        {
            p.Features.CopyTo(features, (long)at * columns);
            p.Labels?.CopyTo(labels!, at);
            at += p.Rows;
        }

        return new FeatureBlob(rows, columns, features, labels);
    }

    /// <summary>Splits off the first <paramref name="count"/> rows and the rest.</summary>
    public (FeatureBlob Head, FeatureBlob Tail) Split(int count)
    {
        count = Math.Clamp(count, 0, Rows);
        var head = new FeatureBlob(count, Columns, Features[..(count * Columns)], Labels?[..count]);
        var tail = new FeatureBlob(Rows - count, Columns, Features[(count * Columns)..], Labels?[count..]);
        return (head, tail);
    }

    public byte[] ToBytes()
    {
        var size = 16 + (Features.Length * 4) + (Labels is null ? 0 : Rows * 4);
        var bytes = new byte[size];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), Rows);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), Columns);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), Labels is null ? 0 : 1);
        MemoryMarshal.AsBytes(Features.AsSpan()).CopyTo(bytes.AsSpan(16));
        if (Labels is not null)
        {
            MemoryMarshal.AsBytes(Labels.AsSpan()).CopyTo(bytes.AsSpan(16 + (Features.Length * 4)));
        }

        return bytes;
    }

    public static FeatureBlob FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 16 || !bytes[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException("not a feature blob (bad header)");
        }

        var rows = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        var columns = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        var hasLabels = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]) == 1;
        if (rows < 0 || columns <= 0)
        {
            throw new InvalidDataException($"feature blob has invalid shape {rows} × {columns}");
        }

        var expected = 16 + ((long)rows * columns * 4) + (hasLabels ? rows * 4L : 0);
        if (bytes.Length != expected)
        {
            throw new InvalidDataException($"feature blob is {bytes.Length} bytes, expected {expected}");
        }

        var features = MemoryMarshal.Cast<byte, float>(bytes.Slice(16, rows * columns * 4)).ToArray();
        var labels = hasLabels ? MemoryMarshal.Cast<byte, int>(bytes.Slice(16 + (rows * columns * 4), rows * 4)).ToArray() : null;
        return new FeatureBlob(rows, columns, features, labels);
    }
}
