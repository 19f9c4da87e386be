namespace Pipeline.Storage.Artifacts;

/// <summary>Base class of artifact store errors.</summary>
public class ArtifactStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ArtifactStoreException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The artifact URI concerned.</summary>
    public string? Uri { get; init; }
}

/// <summary>The artifact does not exist.</summary>
public sealed class ArtifactNotFoundException : ArtifactStoreException
{
    /// <summary>Creates the exception.</summary>
    public ArtifactNotFoundException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The artifact's content does not match the expected SHA-256.</summary>
public sealed class ArtifactIntegrityException : ArtifactStoreException
{
    /// <summary>Creates the exception.</summary>
    public ArtifactIntegrityException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactIntegrityException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ArtifactIntegrityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The SHA-256 the caller expected.</summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>The SHA-256 of the stored content.</summary>
    public string? ActualSha256 { get; init; }
}
