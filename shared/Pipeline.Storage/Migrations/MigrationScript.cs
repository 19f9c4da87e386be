using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Pipeline.Storage.Data;

namespace Pipeline.Storage.Migrations;

/// <summary>One versioned migration script embedded in the assembly.</summary>
/// <param name="Version">Version number (from the file name prefix, e.g. 0001).</param>
/// <param name="Name">File name without extension, e.g. 0001_initial.</param>
/// <param name="Dialect">Dialect the script is written in.</param>
/// <param name="Sql">Script text.</param>
/// <param name="Checksum">SHA-256 (hex) of the script text with normalised line endings.</param>
public sealed record MigrationScript(int Version, string Name, SqlDialect Dialect, string Sql, string Checksum)
{
    /// <summary>
    /// The script's batches: SQL Server scripts are split on lines holding only <c>GO</c>;
    /// SQLite scripts are one batch.
    /// </summary>
    public IReadOnlyList<string> Batches =>
        Dialect == SqlDialect.SqlServer
            ? MigrationScripts.GoSeparator().Split(Sql).Where(b => !string.IsNullOrWhiteSpace(b)).ToList()
            : [Sql];
}

/// <summary>Loads the embedded migration scripts (<c>Migrations/{Dialect}/NNNN_name.sql</c>).</summary>
public static partial class MigrationScripts
{
    /// <summary>All scripts of a dialect, ordered by version.</summary>
    public static IReadOnlyList<MigrationScript> For(SqlDialect dialect)
    {
        var assembly = typeof(MigrationScripts).Assembly;
        var folder = dialect == SqlDialect.SqlServer ? "SqlServer" : "Sqlite";
        var scripts = new List<MigrationScript>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ResourceName().Match(resource);
            if (!match.Success || !string.Equals(match.Groups["dialect"].Value, folder, StringComparison.Ordinal))
            {
                continue;
            }

            var sql = ReadResource(assembly, resource).Replace("\r\n", "\n", StringComparison.Ordinal);
            var version = int.Parse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            var name = match.Groups["version"].Value + "_" + match.Groups["name"].Value;
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            scripts.Add(new MigrationScript(version, name, dialect, sql, checksum));
        }

        scripts.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < scripts.Count; i++)
        {
            if (scripts[i].Version == scripts[i - 1].Version)
            {
                throw new InvalidOperationException($"Duplicate {dialect} migration version {scripts[i].Version}.");
            }
        }

        return scripts;
    }

    private static string ReadResource(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Missing embedded resource {resource}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"\.Migrations\.(?<dialect>SqlServer|Sqlite)\._?(?<version>\d{4})_(?<name>[A-Za-z0-9_]+)\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex ResourceName();

    [GeneratedRegex(@"^\s*GO\s*;?\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    internal static partial Regex GoSeparator();
}
