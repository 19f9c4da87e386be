using Pipeline.Storage.Artifacts;

namespace Pipeline.Artifacts;

public static class ArtifactFailures
{
    /// <summary>A model or data artifact that is missing, fails its hash or cannot be read: doing the work again will not help.</summary>
    public static bool IsKnown(Exception ex) => ex is ModelNotFoundException or ArtifactStoreException or InvalidDataException;
}
