using System.Globalization;
using System.Text;

namespace Pipeline.Drift.Tabular;

/// <summary>A CSV file held as string columns (header row required).</summary>
public sealed class CsvTable
{
    /// <summary>Column names from the header row.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Cells, one array per column.</summary>
    public IReadOnlyList<string[]> Cells { get; }

    /// <summary>Number of data rows.</summary>
    public int RowCount => Cells.Count == 0 ? 0 : Cells[0].Length;

    /// <summary>Creates a table; every column must have the same length.</summary>
    public CsvTable(IReadOnlyList<string> columns, IReadOnlyList<string[]> cells)
    {
        if (columns.Count != cells.Count) throw new DriftInputException("Column names and cell columns differ in count.");
        Columns = columns;
        Cells = cells;
    }

    /// <summary>Index of a column by exact name, or −1.</summary>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Columns.Count; i++)
        {
            if (Columns[i] == name) return i;
        }
        return -1;
    }

    /// <summary>
    /// Reads a comma-separated file with a header row (RFC 4180 quoting; blank lines skipped).
    /// Throws <see cref="DriftInputException"/> for a missing file, no header, duplicate or empty
    /// column names, or a row whose field count differs from the header's.
    /// </summary>
    public static CsvTable Read(string path)
    {
        if (!File.Exists(path)) throw new DriftInputException($"File not found: {path}");
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return Read(reader, path);
    }

    /// <summary>Reads CSV text from a reader; <paramref name="source"/> names it in error messages.</summary>
    public static CsvTable Read(TextReader reader, string source = "input")
    {
        List<string>? header = null;
        var columns = new List<List<string>>();
        int lineNo = 0;
        var fields = new List<string>();
        while (ReadRecord(reader, fields, ref lineNo))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue; // blank line
            if (header is null)
            {
                header = fields.Select(f => f.Trim()).ToList();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var h in header)
                {
                    if (h.Length == 0) throw new DriftInputException($"{source}: empty column name in header.");
                    if (!seen.Add(h)) throw new DriftInputException($"{source}: duplicate column name '{h}'.");
                }
                foreach (var _ in header) columns.Add([]);
                continue;
            }
            if (fields.Count != header.Count)
            {
                throw new DriftInputException(
                    $"{source}: line {lineNo} has {fields.Count} fields, the header has {header.Count}.");
            }
            for (int i = 0; i < fields.Count; i++) columns[i].Add(fields[i]);
        }
        if (header is null) throw new DriftInputException($"{source}: no header row.");
        return new CsvTable(header, columns.Select(c => c.ToArray()).ToList());
    }

    private static bool ReadRecord(TextReader reader, List<string> fields, ref int lineNo)
    {
        fields.Clear();
        int c = reader.Read();
        if (c < 0) return false;
        lineNo++;
        var sb = new StringBuilder();
        bool inQuotes = false;
        while (true)
        {
            if (c < 0)
            {
                fields.Add(sb.ToString());
                return true;
            }
            char ch = (char)c;
            if (inQuotes)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        sb.Append('"');
                    }
                    else
                    {
                        inQuotes = false;
                    }
                }
                else
                {
                    if (ch == '\n') lineNo++;
                    sb.Append(ch);
                }
            }
            else if (ch == '"' && sb.Length == 0)
            {
                inQuotes = true;
            }
            else if (ch == ',')
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else if (ch == '\n' || ch == '\r')
            {
                if (ch == '\r' && reader.Peek() == '\n') reader.Read();
                fields.Add(sb.ToString());
                return true;
            }
            else
            {
                sb.Append(ch);
            }
            c = reader.Read();
        }
    }

    /// <summary>How a numeric cell was read.</summary>
    public enum CellKind
    {
        /// <summary>A finite number.</summary>
        Finite,
        /// <summary>Empty, NA, NaN, null: missing.</summary>
        Missing,
        /// <summary>±inf / ±Infinity.</summary>
        Infinite,
    }

    /// <summary>
    /// Parses a numeric cell (invariant culture). Empty, "NA", "N/A", "NaN", "null" are missing;
    /// "inf", "+inf", "-inf", "Infinity" are infinite; anything else unparseable is an error.
    /// </summary>
    public static CellKind ParseNumber(string cell, out double value)
    {
        var s = cell.Trim();
        value = double.NaN;
        if (s.Length == 0) return CellKind.Missing;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            if (double.IsNaN(value)) return CellKind.Missing;
            return double.IsInfinity(value) ? CellKind.Infinite : CellKind.Finite;
        }
        switch (s.ToUpperInvariant())
        {
            case "NA":
            case "N/A":
            case "NAN":
            case "NULL":
            case "NONE":
                value = double.NaN;
                return CellKind.Missing;
            case "INF":
            case "+INF":
            case "INFINITY":
            case "+INFINITY":
                value = double.PositiveInfinity;
                return CellKind.Infinite;
            case "-INF":
            case "-INFINITY":
                value = double.NegativeInfinity;
                return CellKind.Infinite;
            default:
                throw new FormatException($"'{cell}' is not a number");
        }
    }
}
