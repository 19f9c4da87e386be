using System.Text.RegularExpressions;
using FluentValidation;

namespace Pipeline.Contracts.Validation;

/// <summary>Rules shared by every validator so the same field means the same thing everywhere.</summary>
public static partial class Rules
{
    /// <summary>Model ids become queue-safe names and file names: lower-case letters, digits, '.', '_' and '-'.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex ModelIdPattern();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    public static bool IsValidModelId(string? modelId) => modelId is not null && ModelIdPattern().IsMatch(modelId);

    public static IRuleBuilderOptions<T, string> ValidModelId<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().Matches(ModelIdPattern())
            .WithMessage("'{PropertyName}' must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit.");

    public static IRuleBuilderOptions<T, string> ValidSha256<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().Matches(Sha256Pattern()).WithMessage("'{PropertyName}' must be 64 lower-case hex characters (SHA-256).");

    public static IRuleBuilderOptions<T, string> ValidUri<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().MaximumLength(2048)
            .Must(u => Uri.TryCreate(u, UriKind.Absolute, out _)).WithMessage("'{PropertyName}' must be an absolute URI.");

    public static IRuleBuilderOptions<T, DateTimeOffset> ValidTimestamp<T>(this IRuleBuilder<T, DateTimeOffset> rule) =>
        rule.NotEqual(default(DateTimeOffset)).WithMessage("'{PropertyName}' must be set.")
            .Must(t => t <= DateTimeOffset.UtcNow.AddHours(1)).WithMessage("'{PropertyName}' is in the future.");

    public static IRuleBuilderOptions<T, double> Fraction<T>(this IRuleBuilder<T, double> rule) =>
        rule.Must(v => !double.IsNaN(v) && v >= 0 && v <= 1).WithMessage("'{PropertyName}' must be a fraction in [0, 1].");

    public static IRuleBuilderOptions<T, double> Finite<T>(this IRuleBuilder<T, double> rule) =>
        rule.Must(double.IsFinite).WithMessage("'{PropertyName}' must be a finite number.");

    public static IRuleBuilderOptions<T, string> Reason<T>(this IRuleBuilder<T, string> rule) =>
        rule.NotEmpty().MaximumLength(1000);

    public static IRuleBuilderOptions<T, Guid> Required<T>(this IRuleBuilder<T, Guid> rule) =>
        rule.NotEqual(Guid.Empty).WithMessage("'{PropertyName}' must be a non-empty GUID.");
}

public sealed class PayloadRefValidator : AbstractValidator<PayloadRef>
{
    public PayloadRefValidator()
    {
        RuleFor(x => x.Uri).ValidUri();
        RuleFor(x => x.Sha256).ValidSha256();
        RuleFor(x => x.SizeBytes).GreaterThanOrEqualTo(0);
    }
}

public sealed class FeatureDriftScoreValidator : AbstractValidator<FeatureDriftScore>
{
    public FeatureDriftScoreValidator()
    {
        RuleFor(x => x.Name).NotEmpty().MaximumLength(256);
        RuleFor(x => x.Test).NotEmpty().MaximumLength(32);
        RuleFor(x => x.Statistic).Finite();
        RuleFor(x => x.PValue).Fraction();
    }
}
