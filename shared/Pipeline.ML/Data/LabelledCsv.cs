using System.Globalization;

namespace Pipeline.ML.Data;

/// <summary>
/// Labelled tabular rows from a CSV file with a header: the feature columns a model takes (in the model's order,
/// whatever order the file has them in) and a label column holding a class name or a class index.
/// </summary>
public static class LabelledCsv
{
    /// <summary>Reads the file into a dataset [N, features.Count] with int64 labels.</summary>
    /// <exception cref="InvalidDataException">A missing column, a non-numeric value or an unknown label, with its line.</exception>
    public static ImageDataset Load(string path, IReadOnlyList<string> features, string labelColumn, IReadOnlyList<string> classes)
    {
        var (rows, labels) = Read(path, features, labelColumn, classes);
        return ImageDataset.FromFeatureVectors(rows, labels, [features.Count]);
    }

    /// <summary>Reads the rows (model column order) and class indices.</summary>
    public static (float[][] Rows, long[] Labels) Read(string path, IReadOnlyList<string> features, string labelColumn, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labelColumn);
        ArgumentNullException.ThrowIfNull(classes);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} does not exist", path);
        using var reader = new StreamReader(path);
        var header = reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty file (a header line is required)");
        var names = header.Split(',').Select(h => h.Trim().Trim('"')).ToList();
        int Index(string column)
        {
            var i = names.IndexOf(column);
            if (i < 0) throw new InvalidDataException($"{path}: no column '{column}' (columns: {string.Join(", ", names)})");
            return i;
        }
        var featureIndex = features.Select(Index).ToArray();
        var labelIndex = Index(labelColumn);
        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => (long)x.i, StringComparer.Ordinal);
        var rows = new List<float[]>();
        var labels = new List<long>();
        var line = 1;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (text.Length == 0) continue;
            var cells = text.Split(',');
            if (cells.Length != names.Count)
                throw new InvalidDataException($"{path}:{line}: {cells.Length} cells, the header has {names.Count}");
            var row = new float[featureIndex.Length];
            for (var j = 0; j < featureIndex.Length; j++)
            {
                var cell = cells[featureIndex[j]].Trim();
                if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out row[j]) || !float.IsFinite(row[j]))
                    throw new InvalidDataException($"{path}:{line}: column '{features[j]}' is '{cell}', not a finite number (categorical columns hold category codes)");
            }
            var label = cells[labelIndex].Trim().Trim('"');
            if (classIndex.TryGetValue(label, out var byName)) labels.Add(byName);
            else if (long.TryParse(label, NumberStyles.Integer, CultureInfo.InvariantCulture, out var k) && k >= 0 && k < classes.Count) labels.Add(k);
            else throw new InvalidDataException($"{path}:{line}: label '{label}' is neither a class name nor an index 0..{classes.Count - 1}");
            rows.Add(row);
        }
        if (rows.Count == 0) throw new InvalidDataException($"{path}: no data rows");
        return (rows.ToArray(), labels.ToArray());
    }
}
