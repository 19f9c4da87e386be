using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Pipeline.Inference;

/// <summary>
/// Section "Inference:Auth": who may call the inference API. Each client has an API key, sent as
/// <c>X-Api-Key: KEY</c> or <c>Authorization: Bearer KEY</c>. Keys come from the environment or a secret
/// (<c>Inference__Auth__ApiKeys__CLIENT=KEY</c>), never from a committed file. Without any key the host
/// refuses to start, unless <see cref="Enabled"/> is false (the embedded demo's choice, and tests').
/// </summary>
public sealed partial class InferenceAuthOptions : IValidatableObject
{
    public const string Section = "Inference:Auth";

    /// <summary>Shortest key accepted (a key is a secret: 16 characters at least, e.g. <c>openssl rand -hex 16</c>).</summary>
    public const int MinKeyLength = 16;

    /// <summary>Require an API key on the inference routes (health, metrics and OpenAPI stay open). False only for demos and tests.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Client id → API key. The client id names the caller in rate limits, quotas, batch ownership and logs.</summary>
    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (ApiKeys.Count == 0)
        {
            yield return new ValidationResult(
                "Inference:Auth:ApiKeys is empty: give every client a key (environment variable Inference__Auth__ApiKeys__<client>=<key>, " +
                "from a secret), or set Inference:Auth:Enabled=false for a local demo.",
                [nameof(ApiKeys)]);
        }

        foreach (var (client, key) in ApiKeys)
        {
            if (!ClientIdPattern().IsMatch(client))
            {
                yield return new ValidationResult(
                    $"Inference:Auth:ApiKeys: client id '{client}' must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-'.", [nameof(ApiKeys)]);
            }

            if (string.IsNullOrWhiteSpace(key) || key.Trim().Length < MinKeyLength)
            {
                yield return new ValidationResult(
                    $"Inference:Auth:ApiKeys:{client}: the key must have at least {MinKeyLength} characters.", [nameof(ApiKeys)]);
            }
        }

        if (ApiKeys.Values.Select(k => k?.Trim()).Distinct(StringComparer.Ordinal).Count() != ApiKeys.Count)
        {
            yield return new ValidationResult("Inference:Auth:ApiKeys: two clients share a key; every client needs its own.", [nameof(ApiKeys)]);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ClientIdPattern();
}
