using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Pipeline.Storage.Data;

/// <summary>
/// Registers Dapper type handlers for <see cref="Guid"/> and <see cref="DateTimeOffset"/> once per
/// process. SQLite keeps both as TEXT (GUID "D" format, lower case; timestamps as fixed-width UTC
/// ISO-8601 so that text order is time order); SQL Server parameters keep their native types.
/// </summary>
public static class DapperTypeHandlers
{
    private static int _registered;

    /// <summary>The TEXT format of timestamps stored in SQLite.</summary>
    public const string SqliteTimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffffzzz";

    /// <summary>Registers the handlers (idempotent, thread-safe).</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        // Dapper consults its built-in type map before handlers, so remove the built-in entries.
        SqlMapper.RemoveTypeMap(typeof(Guid));
        SqlMapper.RemoveTypeMap(typeof(Guid?));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new GuidHandler());
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
    }

    /// <summary>Formats a timestamp the way SQLite rows store it.</summary>
    public static string ToSqliteText(DateTimeOffset value) =>
        value.ToUniversalTime().ToString(SqliteTimestampFormat, CultureInfo.InvariantCulture);

    private sealed class GuidHandler : SqlMapper.TypeHandler<Guid>
    {
        public override void SetValue(IDbDataParameter parameter, Guid value)
        {
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.String;
                parameter.Value = value.ToString("D");
            }
            else
            {
                parameter.DbType = DbType.Guid;
                parameter.Value = value;
            }
        }

        public override Guid Parse(object value) => value switch
        {
            Guid g => g,
            string s => Guid.Parse(s),
            byte[] { Length: 16 } b => new Guid(b),
            _ => throw new DataException($"Cannot convert {value.GetType()} to Guid."),
        };
    }

    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.String;
                parameter.Value = ToSqliteText(value);
            }
            else
            {
                parameter.DbType = DbType.DateTimeOffset;
                parameter.Value = value;
            }
        }

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset d => d,
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, dt.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : dt.Kind)),
            string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            _ => throw new DataException($"Cannot convert {value.GetType()} to DateTimeOffset."),
        };
    }
}
