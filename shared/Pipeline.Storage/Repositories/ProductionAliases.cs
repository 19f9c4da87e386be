namespace Pipeline.Storage.Repositories;

/// <summary>
/// What moved a production alias (persisted by name in <c>production_alias_history.change_kind</c>), and
/// so why the version it moved from left production.
/// </summary>
public enum AliasChangeKind
{
    /// <summary>Set directly (seeding, registration with deploy outside a run, tests).</summary>
    Set = 0,

    /// <summary>A deployment: the previous version was superseded.</summary>
    Deploy = 1,

    /// <summary>A rollback: the previous version was rolled back as bad.</summary>
    Rollback = 2,
}

/// <summary>The current production version of a model.</summary>
public sealed record ProductionAlias
{
    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Version serving production.</summary>
    public int Version { get; init; }

    /// <summary>When it was set.</summary>
    public DateTimeOffset SetAt { get; init; }

    /// <summary>Who set it.</summary>
    public required string SetBy { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }
}

/// <summary>One change of a production alias.</summary>
public sealed record ProductionAliasChange
{
    /// <summary>Row id (increasing).</summary>
    public long Id { get; init; }

    /// <summary>Model id.</summary>
    public required string ModelId { get; init; }

    /// <summary>Version before (null for the first).</summary>
    public int? FromVersion { get; init; }

    /// <summary>Version after.</summary>
    public int ToVersion { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset ChangedAt { get; init; }

    /// <summary>Who.</summary>
    public required string ChangedBy { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }

    /// <summary>What moved the alias, and so why <see cref="FromVersion"/> left production.</summary>
    public AliasChangeKind Kind { get; init; }
}
