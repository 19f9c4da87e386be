using System.Text.RegularExpressions;
using Pipeline.Contracts;
using Pipeline.Hosting;
using Pipeline.Storage.Artifacts;

namespace Pipeline.Deployment;

/// <summary>
/// A registration reads only the sender's own uploads: every file it names lies under
/// <c>artifact://uploads/&lt;user&gt;/</c>, where pipelinectl puts what the validated user uploads. Knowing the URI
/// and SHA-256 of a registered version (which <c>ctl models show</c> displays) is therefore not enough to register
/// it again: its file is under <c>models/</c>, and another user's upload is under their name.
/// </summary>
public static partial class RegistrationUploads
{
    public static string Prefix(string user) => $"{FileSystemArtifactStore.Scheme}uploads/{user}/";

    /// <exception cref="CommandRejectedException">a file is not the sender's own upload.</exception>
    public static void CheckOwned(RegisterModel m, string user)
    {
        if (!SafeUser().IsMatch(user))
        {
            throw new CommandRejectedException($"user '{user}' cannot upload: its name must be letters, digits, '.', '_' or '-'");
        }

        foreach (var (what, file) in Files(m))
        {
            if (!file.Uri.StartsWith(Prefix(user), StringComparison.Ordinal) || file.Uri.Contains("..", StringComparison.Ordinal))
            {
                throw new CommandRejectedException(
                    $"the {what} {file.Uri} is not an upload of {user}: register files you uploaded (ctl models register uploads them under {Prefix(user)})");
            }
        }
    }

    /// <summary>Deletes the sender's uploads a refused registration named (never anyone else's file).</summary>
    public static void Delete(IArtifactStore artifacts, RegisterModel m, string user)
    {
        foreach (var (_, file) in Files(m))
        {
            if (file.Uri.StartsWith(Prefix(user), StringComparison.Ordinal) && !file.Uri.Contains("..", StringComparison.Ordinal))
            {
                try
                {
                    artifacts.Delete(file.Uri);
                }
                catch (Exception ex) when (ex is ArtifactStoreException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    // best effort: a refusal is answered either way
                }
            }
        }
    }

    private static IEnumerable<(string What, PayloadRef File)> Files(RegisterModel m)
    {
        yield return ("model file", m.ModelFile);
        yield return ("reference data", m.ReferenceData);
        if (m.GateHoldout is not null)
        {
            yield return ("gate holdout", m.GateHoldout);
        }

        if (m.ReplaySet is not null)
        {
            yield return ("replay set", m.ReplaySet);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex SafeUser();
}
