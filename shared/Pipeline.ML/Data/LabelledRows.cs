using Pipeline.ML.Models;

namespace Pipeline.ML.Data;

/// <summary>Flat labelled rows for a model's input (what registration uploads as reference data).</summary>
public sealed record LabelledRows(int Rows, int Columns, float[] Features, int[] Labels)
{
    /// <summary>
    /// IDX images and labels for a model described by <paramref name="info"/>: each image must hold exactly the
    /// input shape's values; unsigned bytes are divided by 255 for a unit-scale model and taken as they are otherwise.
    /// </summary>
    public static LabelledRows FromIdx(string imagesPath, string labelsPath, ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var images = IdxReader.Read(imagesPath);
        var labels = IdxReader.Read(labelsPath);
        var width = Data.Features.Length(info.InputShape);
        var n = images.Dimensions[0];
        var per = images.Dimensions.Skip(1).Aggregate(1L, (a, d) => a * d);
        if (images.Dimensions.Length < 2 || per != width)
        {
            throw new InvalidDataException(
                $"{imagesPath}: images are [{string.Join(", ", images.Dimensions)}]; the model's input shape [{string.Join(", ", info.InputShape)}] needs {width} values each");
        }
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != n || labels.Bytes is null)
            throw new InvalidDataException($"{labelsPath}: expected {n} unsigned-byte labels, got [{string.Join(", ", labels.Dimensions)}]");
        var unit = info.InputScale == ModelManifest.UnitScale;
        var features = images.Bytes is { } bytes
            ? bytes.Select(b => unit ? b / 255f : b).ToArray()
            : images.Floats!;
        var lab = new int[n];
        for (var i = 0; i < n; i++)
        {
            if (labels.Bytes[i] >= info.Classes.Length)
                throw new InvalidDataException($"{labelsPath}: label {labels.Bytes[i]} at {i} is not a class index 0..{info.Classes.Length - 1}");
            lab[i] = labels.Bytes[i];
        }
        return new LabelledRows(n, width, features, lab);
    }

    /// <summary>A CSV file with a header: the manifest's feature columns (x0, x1, … without one) and a label column.</summary>
    public static LabelledRows FromCsv(string path, string labelColumn, ModelInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.InputShape.Length != 1)
            throw new InvalidDataException($"CSV rows are flat; the model's input shape is [{string.Join(", ", info.InputShape)}] (use --reference-images)");
        var names = info.Features?.Select(f => f.Name).ToList() ?? Enumerable.Range(0, info.InputShape[0]).Select(i => $"x{i}").ToList();
        var (rows, labels) = LabelledCsv.Read(path, names, labelColumn, info.Classes);
        var flat = new float[rows.Length * names.Count];
        for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * names.Count);
        return new LabelledRows(rows.Length, names.Count, flat, labels.Select(l => (int)l).ToArray());
    }
}
