using FluentValidation;

namespace Pipeline.Contracts.Validation;

public sealed class ScoreSensitivityValidator : AbstractValidator<ScoreSensitivity>
{
    public ScoreSensitivityValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.Attempt).GreaterThan(0);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class TrainCandidateValidator : AbstractValidator<TrainCandidate>
{
    public TrainCandidateValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.MaskUri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.SelectedFraction).Fraction();
        RuleFor(x => x.AdaptationSetId).Required();
        RuleFor(x => x.AdaptationSet).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.ShiftedHoldout).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.Strategy).Must(StrategyRegistry.IsServable).When(x => x.Strategy is not null)
            .WithMessage(x => $"unknown strategy '{x.Strategy}' (servable: {string.Join(", ", StrategyRegistry.Servable)})");
        RuleFor(x => x.Attempt).GreaterThan(0);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class EvaluateCandidateValidator : AbstractValidator<EvaluateCandidate>
{
    public EvaluateCandidateValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.CandidateVersion).GreaterThan(x => x.BaseVersion);
        RuleFor(x => x.ShiftedHoldout).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.Strategy).MaximumLength(64);
        RuleFor(x => x.Attempt).GreaterThan(0);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class DeployCandidateValidator : AbstractValidator<DeployCandidate>
{
    public DeployCandidateValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.CandidateVersion).GreaterThan(x => x.BaseVersion);
        RuleFor(x => x.By).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Mode).IsInEnum();
        RuleFor(x => x.Attempt).GreaterThan(0);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class AdaptationStageFailedValidator : AbstractValidator<AdaptationStageFailed>
{
    public AdaptationStageFailedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.Stage).IsInEnum();
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.Candidate).MaximumLength(64);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class AdaptationRunStartedValidator : AbstractValidator<AdaptationRunStarted>
{
    public AdaptationRunStartedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.TriggeredBy).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class AdaptationRunFinishedValidator : AbstractValidator<AdaptationRunFinished>
{
    public AdaptationRunFinishedValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.Outcome).IsInEnum();
        RuleFor(x => x.Reason).NotEmpty().MaximumLength(2000);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}
