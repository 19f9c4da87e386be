using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Contracts;

namespace Pipeline.Artifacts;

/// <summary>
/// What the registry's metadata column holds for a model version: the labelled original data held
/// out for forgetting checks, the data the drift monitor compares production traffic against, and
/// the run that produced the version.
/// </summary>
public sealed record VersionMetadata
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Labelled rows held out for forgetting checks: the original distribution's, plus a share of every regime the
    /// version was adapted to (<see cref="RegimeMemory"/>). Never used for training or readout statistics.
    /// </summary>
    public PayloadRef? ReferenceHoldout { get; init; }

    /// <summary>Rows the drift monitor uses as reference for this version (training sample, or the adaptation set).</summary>
    public PayloadRef? DriftReference { get; init; }

    /// <summary>
    /// Labelled rows of the distributions the model already serves, mixed into adaptation sets
    /// (replay) so tuning does not forget them. Never the same rows as <see cref="ReferenceHoldout"/>.
    /// Candidates inherit it.
    /// </summary>
    public PayloadRef? ReplaySet { get; init; }

    /// <summary>Rows of each regime in <see cref="ReplaySet"/>, in order (original first); null: one regime.</summary>
    public IReadOnlyList<int>? ReplayRegimeRows { get; init; }

    /// <summary>Rows of each regime in <see cref="ReferenceHoldout"/>, in order (original first); null: one regime.</summary>
    public IReadOnlyList<int>? HoldoutRegimeRows { get; init; }

    public Guid? RunId { get; init; }

    public int? BaseVersion { get; init; }

    public string? Strategy { get; init; }

    /// <summary>The RegisterModel that registered this version (its idempotency key): a retry finds it instead of registering again.</summary>
    public string? RegistrationKey { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static VersionMetadata Parse(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new VersionMetadata() : JsonSerializer.Deserialize<VersionMetadata>(json, Json) ?? new VersionMetadata();
}
