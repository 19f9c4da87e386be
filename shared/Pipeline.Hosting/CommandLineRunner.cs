using System.CommandLine;

namespace Pipeline.Hosting;

/// <summary>A mistake on the command line that the user can fix: printed as one line, exit code 2.</summary>
public sealed class UserErrorException(string message) : Exception(message);

/// <summary>
/// Runs a System.CommandLine root for `pipelinectl` and the demo host: a user's mistake (a bad
/// option value, a missing file, an unreachable broker) is one red line on stderr and a non-zero
/// exit, never a stack trace. PIPELINE_DEBUG=1 prints the full exception for bug reports.
/// </summary>
public static class CommandLineRunner
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        ArgumentNullException.ThrowIfNull(root);
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Action is System.CommandLine.Invocation.ParseErrorAction onError)
            {
                onError.ShowHelp = false; // the error line says what is wrong; --help shows the usage
                // A mistake on the command line exits 2, like every other user error.
                return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token) == 0 ? 0 : 2;
            }

            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return 130;
        }
        catch (Exception ex)
        {
            var inner = ex is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : ex;
            var message = inner switch
            {
                UserErrorException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or FormatException
                    or InvalidDataException or UnauthorizedAccessException or TimeoutException => inner.Message,
                // SQLite's "no such table" (SqliteException, a DbException: Hosting references no database provider).
                System.Data.Common.DbException sql when sql.Message.Contains("no such table", StringComparison.Ordinal)
                    => "that database has no pipeline tables: is --db (or Storage__ConnectionString) the right file?",
                _ => $"{inner.GetType().Name}: {inner.Message}",
            };
            await Console.Error.WriteLineAsync($"error: {message}");
            if (Environment.GetEnvironmentVariable("PIPELINE_DEBUG") is "1" or "true")
            {
                await Console.Error.WriteLineAsync(inner.ToString());
            }

            return inner is UserErrorException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or FormatException ? 2 : 1;
        }
    }
}
