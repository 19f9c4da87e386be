using FluentValidation;

namespace Pipeline.Contracts.Validation;

public sealed class CommandAcceptedValidator : AbstractValidator<CommandAccepted>
{
    public CommandAcceptedValidator()
    {
        RuleFor(x => x.Command).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Detail).NotEmpty().MaximumLength(4000);
        RuleFor(x => x.By).NotEmpty().MaximumLength(256);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class CommandRefusedValidator : AbstractValidator<CommandRefused>
{
    public CommandRefusedValidator()
    {
        RuleFor(x => x.Command).NotEmpty().MaximumLength(128);
        RuleFor(x => x.Reason).NotEmpty().MaximumLength(4000);
        RuleFor(x => x.By!).MaximumLength(256).When(x => x.By is not null);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class ListRunsValidator : AbstractValidator<ListRuns>
{
    public ListRunsValidator()
    {
        RuleFor(x => x.ModelId!).ValidModelId().When(x => x.ModelId is not null);
        RuleFor(x => x.Limit).InclusiveBetween(1, 1000);
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class RunListValidator : AbstractValidator<RunList>
{
    public RunListValidator()
    {
        RuleFor(x => x.Runs).NotNull();
        RuleForEach(x => x.Runs).SetValidator(new RunSummaryValidator());
    }
}

public sealed class RunSummaryValidator : AbstractValidator<RunSummary>
{
    public RunSummaryValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.ModelId).ValidModelId();
        RuleFor(x => x.BaseVersion).GreaterThan(0);
        RuleFor(x => x.State).NotEmpty().MaximumLength(32);
    }
}

public sealed class GetRunValidator : AbstractValidator<GetRun>
{
    public GetRunValidator()
    {
        RuleFor(x => x.RunId).Required();
        RuleFor(x => x.Timestamp).ValidTimestamp();
    }
}

public sealed class RunDetailsValidator : AbstractValidator<RunDetails>
{
    public RunDetailsValidator()
    {
        RuleFor(x => x.Run).NotNull().SetValidator(new RunSummaryValidator());
        RuleFor(x => x.History).NotNull();
        RuleFor(x => x.Approvals).NotNull();
    }
}
