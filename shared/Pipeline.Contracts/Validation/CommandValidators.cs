using FluentValidation;

namespace Pipeline.Contracts.Validation;

public sealed class ApproveCandidateValidator : AbstractValidator<ApproveCandidate>
{
    public ApproveCandidateValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.ModelId!).ValidModelId().When(x => x.ModelId is not null);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class RejectCandidateValidator : AbstractValidator<RejectCandidate>
{
    public RejectCandidateValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.ModelId!).ValidModelId().When(x => x.ModelId is not null);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class RollbackModelValidator : AbstractValidator<RollbackModel>
{
    public RollbackModelValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ToVersion).GreaterThan(0).When(x => x.ToVersion is not null);
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

/// <summary>Pause, resume and start share one shape: a model and a reason.</summary>
public abstract class ModelCommandValidator<T> : AbstractValidator<T>
    where T : IPipelineMessage
{
    protected ModelCommandValidator(Func<T, string> reason)
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => reason(x)).Reason().OverridePropertyName("Reason");
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class PauseAdaptationValidator() : ModelCommandValidator<PauseAdaptation>(x => x.Reason);

public sealed class ResumeAdaptationValidator() : ModelCommandValidator<ResumeAdaptation>(x => x.Reason);

public sealed class StartAdaptationValidator() : ModelCommandValidator<StartAdaptation>(x => x.Reason);

public sealed class RegisterModelValidator : AbstractValidator<RegisterModel>
{
    public RegisterModelValidator()
    {
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.ModelFile).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.ReferenceData).NotNull().SetValidator(new PayloadRefValidator());
        RuleFor(x => x.GateHoldout!).SetValidator(new PayloadRefValidator()).When(x => x.GateHoldout is not null);
        RuleFor(x => x.ReplaySet!).SetValidator(new PayloadRefValidator()).When(x => x.ReplaySet is not null);
        RuleFor(x => x.Manifest!).MaximumLength(1_000_000).When(x => x.Manifest is not null);
        RuleFor(x => x.IdempotencyKey!).NotEmpty().MaximumLength(100).When(x => x.IdempotencyKey is not null);
        RuleFor(x => x.Reason).Reason();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ListModelsValidator : AbstractValidator<ListModels>
{
    public ListModelsValidator()
    {
        RuleFor(x => x.ModelId!).ValidModelId().When(x => x.ModelId is not null);
    }
}

public sealed class ModelCatalogValidator : AbstractValidator<ModelCatalog>
{
    public ModelCatalogValidator()
    {
        RuleFor(x => x.Models).NotNull();
    }
}
