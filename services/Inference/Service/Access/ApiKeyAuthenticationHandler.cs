using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pipeline.Inference;

/// <summary>
/// The API key scheme of the inference routes: <c>X-Api-Key: KEY</c> or <c>Authorization: Bearer KEY</c>
/// names a client of <see cref="InferenceAuthOptions.ApiKeys"/>. Keys are compared as SHA-256 digests in
/// constant time. A missing or unknown key is a 401 problem; when auth is disabled every request is the
/// client <see cref="AnonymousClient"/>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyRing keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";
    public const string AnonymousClient = "anonymous";

    private const string FailureItem = "inference.auth.failure";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Enabled)
        {
            return Task.FromResult(Success(AnonymousClient));
        }

        var presented = PresentedKey(Request.Headers);
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var client = keys.ClientOf(presented);
        if (client is null)
        {
            Context.Items[FailureItem] = "The API key is not valid.";
            return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        }

        return Task.FromResult(Success(client));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var detail = Context.Items[FailureItem] as string
            ?? $"An API key is required: send it as '{HeaderName}: <key>' or 'Authorization: Bearer <key>'.";
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{HeaderName}\", Bearer";
        await WriteProblemAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized", detail, Logger);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", "This client may not use this route.", Logger);

    /// <summary>The key in <c>X-Api-Key</c>, or the token of <c>Authorization: Bearer</c>; null when neither is sent.</summary>
    internal static string? PresentedKey(IHeaderDictionary headers)
    {
        var key = headers[HeaderName].ToString();
        if (!string.IsNullOrWhiteSpace(key))
        {
            return key.Trim();
        }

        var authorization = headers.Authorization.ToString();
        const string bearer = "Bearer ";
        return authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) && authorization.Length > bearer.Length
            ? authorization[bearer.Length..].Trim()
            : null;
    }

    /// <summary>Writes a problem details answer and counts it as a rejected request of the route.</summary>
    internal static async Task WriteProblemAsync(HttpContext http, int status, string title, string detail, ILogger logger)
    {
        var endpoint = InferenceRoute.LabelOf(http);
        InferenceMetrics.RejectedRequests.WithLabels(endpoint, status.ToString(CultureInfo.InvariantCulture)).Inc();
        logger.LogDebug("Rejected {Endpoint} request with {Status}: {Detail}", endpoint, status, detail);
        http.Response.StatusCode = status;
        await Results.Problem(detail: detail, statusCode: status, title: title).ExecuteAsync(http);
    }

    private AuthenticateResult Success(string client)
    {
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, client), new Claim(ClaimTypes.Name, client)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}

/// <summary>The configured API keys as SHA-256 digests, compared in constant time.</summary>
public sealed class ApiKeyRing(IOptions<InferenceAuthOptions> options)
{
    private readonly (byte[] Digest, string Client)[] digests = options.Value.ApiKeys
        .Select(p => (Digest(p.Value), p.Key)).ToArray();

    public bool Enabled { get; } = options.Value.Enabled;

    /// <summary>The client whose key this is, or null.</summary>
    public string? ClientOf(string presented)
    {
        var digest = Digest(presented);
        string? client = null;
        foreach (var (known, id) in digests)
        {
            // No early exit: every key is compared, each in constant time.
            if (CryptographicOperations.FixedTimeEquals(known, digest))
            {
                client = id;
            }
        }

        return client;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key.Trim()));
}
