using FluentValidation;

namespace Pipeline.Contracts.Validation;

public sealed class ModelVersionRegisteredValidator : AbstractValidator<ModelVersionRegistered>
{
    public ModelVersionRegisteredValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.Version).GreaterThan(0);
        RuleFor(x => x.ArtifactUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.Architecture).NotEmpty().MaximumLength(64);
        RuleFor(x => x.InputShape).NotEmpty().Must(s => s.All(d => d > 0)).WithMessage("'Input Shape' dimensions must be positive.");
        RuleFor(x => x.Classes).NotEmpty().Must(c => c.Distinct().Count() == c.Count).WithMessage("'Classes' must be distinct.");
        RuleFor(x => x.ReferenceData!).SetValidator(new PayloadRefValidator()).When(x => x.ReferenceData is not null);
        RuleFor(x => x.RegisteredBy).NotEmpty();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class DriftWindowEvaluatedValidator : AbstractValidator<DriftWindowEvaluated>
{
    public DriftWindowEvaluatedValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ModelVersion).GreaterThan(0);
        RuleFor(x => x.WindowId).NotEmpty().MaximumLength(200);
        RuleFor(x => x.Rows).GreaterThanOrEqualTo(0);
        RuleFor(x => x.ShareDrifted).InclusiveBetween(0, 1);
        RuleFor(x => x.Status).Must(s => s is "ok" or "insufficient_data" or "error")
            .WithMessage("'Status' must be ok, insufficient_data or error.");
        RuleFor(x => x.Batches).NotNull();
        RuleForEach(x => x.Batches).ChildRules(b =>
        {
            b.RuleFor(s => s.BatchId).Required();
            b.RuleFor(s => s.Rows).GreaterThan(0);
        });
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ObservationsIngestedValidator : AbstractValidator<ObservationsIngested>
{
    public ObservationsIngestedValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ModelVersion).GreaterThan(0);
        RuleFor(x => x.BatchId).Required();
        RuleFor(x => x.Features).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.Count).InclusiveBetween(1, 1_000_000);
        RuleFor(x => x.FeatureCount).InclusiveBetween(1, 100_000);
        RuleFor(x => x.Predictions).NotNull().Must((m, p) => p.Count == m.Count)
            .WithMessage("'Predictions' must have one entry per row (Count).");
        RuleFor(x => x.Predictions).Must(p => p.All(v => v >= 0)).WithMessage("'Predictions' must be class indices (>= 0).");
        RuleFor(x => x.Confidences!).Must((m, c) => c.Count == m.Count && c.All(v => v >= 0 && v <= 1))
            .When(x => x.Confidences is not null).WithMessage("'Confidences' must have one probability in [0, 1] per row.");
        RuleFor(x => x.Labels!).Must((m, l) => l.Count == m.Count && l.All(v => v >= 0))
            .When(x => x.Labels is not null).WithMessage("'Labels' must have one class index per row.");
        RuleFor(x => x.Embeddings!).SetValidator(new PayloadRefValidator()).When(x => x.Embeddings is not null);
        RuleFor(x => x.EmbeddingWidth).NotNull().InclusiveBetween(1, 100_000).When(x => x.Embeddings is not null)
            .WithMessage("'EmbeddingWidth' must be 1 to 100000 values per row when 'Embeddings' is given.");
        RuleFor(x => x.EmbeddingWidth).Null().When(x => x.Embeddings is null)
            .WithMessage("'EmbeddingWidth' is given without 'Embeddings'.");
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class LabelsObservedValidator : AbstractValidator<LabelsObserved>
{
    public LabelsObservedValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BatchId).Required();
        RuleFor(x => x.Labels).NotEmpty().Must(l => l.All(v => v >= 0)).WithMessage("'Labels' must be class indices (>= 0).");
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class DriftDetectedValidator : AbstractValidator<DriftDetected>
{
    public DriftDetectedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ModelVersion).GreaterThan(0);
        RuleFor(x => x.WindowId).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Severity).IsInEnum();
        RuleFor(x => x.DatasetDriftScore).Fraction();
        RuleForEach(x => x.TopFeatures).SetValidator(new FeatureDriftScoreValidator());
        RuleForEach(x => x.DriftedFeatures).SetValidator(new FeatureDriftScoreValidator());
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class SensitivityScoredValidator : AbstractValidator<SensitivityScored>
{
    public SensitivityScoredValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ModelVersion).GreaterThan(0);
        RuleFor(x => x.MaskUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.SelectedFraction).Fraction();
        RuleForEach(x => x.Coverage).ChildRules(c =>
        {
            c.RuleFor(l => l.Layer).NotEmpty();
            c.RuleFor(l => l.Total).GreaterThan(0);
            c.RuleFor(l => l.Selected).GreaterThanOrEqualTo(0).LessThanOrEqualTo(l => l.Total);
        });
        RuleFor(x => x.AdaptationSetId).Required();
        RuleFor(x => x.AdaptationSet).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.ShiftedHoldout).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class TuningProgressValidator : AbstractValidator<TuningProgress>
{
    public TuningProgressValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.TotalSteps).GreaterThan(0);
        RuleFor(x => x.Step).GreaterThanOrEqualTo(0).LessThanOrEqualTo(x => x.TotalSteps);
        RuleFor(x => x.Loss).Finite();
        RuleFor(x => x.UpdatedFraction).Fraction();
        RuleFor(x => x.Phase).NotEmpty();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class CandidateTrainedValidator : AbstractValidator<CandidateTrained>
{
    public static readonly IReadOnlyList<string> Strategies = StrategyRegistry.Servable;

    public CandidateTrainedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.CandidateVersion).GreaterThan(x => x.BaseVersion);
        RuleFor(x => x.ArtifactUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.Strategy).Must(s => Strategies.Contains(s)).WithMessage($"'Strategy' must be one of: {string.Join(", ", Strategies)}.");
        RuleFor(x => x.SelectedFraction).Fraction();
        RuleFor(x => x.UpdatedFractionPerStep).Fraction();
        RuleFor(x => x.Steps).GreaterThanOrEqualTo(0);
        RuleFor(x => x.TrainSeconds).Finite().GreaterThanOrEqualTo(0);
        RuleFor(x => x.Device).NotEmpty();
        RuleFor(x => x.ShiftedHoldout).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class CandidateEvaluatedValidator : AbstractValidator<CandidateEvaluated>
{
    public CandidateEvaluatedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.CandidateVersion).GreaterThan(0);
        RuleFor(x => x.ProductionVersion).GreaterThan(0);
        RuleFor(x => x.ShiftedAccuracyBefore).Fraction();
        RuleFor(x => x.ShiftedAccuracyAfter).Fraction();
        RuleFor(x => x.OriginalAccuracyBefore).Fraction();
        RuleFor(x => x.OriginalAccuracyAfter).Fraction();
        RuleFor(x => x.Forgetting).Finite().InclusiveBetween(-1, 1);
        RuleFor(x => x.LatencyMsBefore).Finite().GreaterThanOrEqualTo(0);
        RuleFor(x => x.LatencyMsAfter).Finite().GreaterThanOrEqualTo(0);
        RuleFor(x => x.GainInterval!).SetValidator(new ConfidenceIntervalValidator()).When(x => x.GainInterval is not null);
        RuleFor(x => x.ForgettingInterval!).SetValidator(new ConfidenceIntervalValidator()).When(x => x.ForgettingInterval is not null);
        // A relative increase: at least −100 %, unbounded above.
        RuleFor(x => x.LatencyIncreaseInterval!.Lower).Finite().GreaterThanOrEqualTo(-1).When(x => x.LatencyIncreaseInterval is not null);
        RuleFor(x => x.LatencyIncreaseInterval!.Upper).Finite().GreaterThanOrEqualTo(x => x.LatencyIncreaseInterval!.Lower).When(x => x.LatencyIncreaseInterval is not null);
        RuleFor(x => x.LatencyIncreaseInterval!.Level).ExclusiveBetween(0, 1).When(x => x.LatencyIncreaseInterval is not null);
        RuleFor(x => x.ShiftedRows).GreaterThan(0).When(x => x.ShiftedRows is not null);
        RuleFor(x => x.OriginalRows).GreaterThan(0).When(x => x.OriginalRows is not null);
        RuleFor(x => x.Decision).IsInEnum();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ApprovalRequestedValidator : AbstractValidator<ApprovalRequested>
{
    public ApprovalRequestedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.CandidateVersion).GreaterThan(0);
        RuleFor(x => x.Reasons).NotEmpty();
        RuleFor(x => x.ExpiresAt).GreaterThan(x => x.Timestamp);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class CandidateApprovedValidator : AbstractValidator<CandidateApproved>
{
    public CandidateApprovedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.CandidateVersion).GreaterThan(0);
        RuleFor(x => x.By).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Mode).IsInEnum();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class CandidateRejectedValidator : AbstractValidator<CandidateRejected>
{
    public CandidateRejectedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.CandidateVersion).GreaterThan(0);
        RuleFor(x => x.By).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Mode).IsInEnum();
        RuleFor(x => x.Reasons).NotEmpty();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ModelDeployedValidator : AbstractValidator<ModelDeployed>
{
    public ModelDeployedValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.Version).GreaterThan(0);
        RuleFor(x => x.PreviousVersion).GreaterThan(0).When(x => x.PreviousVersion is not null);
        RuleFor(x => x.ArtifactUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.By).NotEmpty();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ModelRolledBackValidator : AbstractValidator<ModelRolledBack>
{
    public ModelRolledBackValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.Version).GreaterThan(0);
        RuleFor(x => x.PreviousVersion).GreaterThan(0).NotEqual(x => x.Version);
        RuleFor(x => x.ArtifactUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.By).NotEmpty();
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class AdaptationRunFailedValidator : AbstractValidator<AdaptationRunFailed>
{
    public AdaptationRunFailedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.Stage).NotEmpty().MaximumLength(64);
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ConfidenceIntervalValidator : AbstractValidator<ConfidenceInterval>
{
    public ConfidenceIntervalValidator()
    {
        RuleFor(x => x.Lower).Finite().InclusiveBetween(-1, 1);
        RuleFor(x => x.Upper).Finite().InclusiveBetween(-1, 1).GreaterThanOrEqualTo(x => x.Lower);
        RuleFor(x => x.Level).ExclusiveBetween(0, 1);
    }
}
