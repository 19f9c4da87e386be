using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Pipeline.Contracts;

namespace Pipeline.Inference;

/// <summary>
/// Makes /openapi/v1.json a document a client generator can use: the X-Api-Key security scheme on every route that
/// needs it; numbers typed as numbers (the server reads them strictly, never from strings); the request fields the
/// server requires marked required and not nullable; raw binary bodies typed as binary.
/// </summary>
internal static class InferenceOpenApi
{
    public const string SchemeName = "ApiKey";

    private static readonly Dictionary<string, string[]> RequiredFields = new(StringComparer.Ordinal)
    {
        [nameof(PredictRequest)] = ["instances"],
        [nameof(FeedbackRequest)] = ["batchId", "labels"],
    };

    public static IServiceCollection AddInferenceOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = ApiKeyAuthenticationHandler.HeaderName,
                    Description = "A client's API key (Inference:Auth:ApiKeys). A bearer token in Authorization is taken too.",
                };
                foreach (var (name, schema) in document.Components.Schemas ?? new Dictionary<string, IOpenApiSchema>())
                {
                    PlainNumbers(schema, 0);
                    if (RequiredFields.TryGetValue(name, out var required) && schema is OpenApiSchema s)
                    {
                        s.Required = new HashSet<string>(required, StringComparer.Ordinal);
                        foreach (var field in required)
                        {
                            NotNull(s.Properties?.TryGetValue(field, out var property) == true ? property : null);
                        }
                    }
                }

                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any())
                {
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] }];
                }

                if (operation.RequestBody?.Content?.TryGetValue(InferenceHandlers.OctetStream, out var binary) == true && binary is OpenApiMediaType media)
                {
                    media.Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Format = "binary",
                        Description = "Rows back to back: little-endian float32 (or uint8 with ?datatype=UINT8); for /v2 infer, the JSON header " +
                                      "(its length in Inference-Header-Content-Length) followed by the binary tensor data.",
                    };
                }

                PlainNumbers(operation.RequestBody?.Content, operation.Responses);
                return Task.CompletedTask;
            });
        });

    private static void PlainNumbers(IDictionary<string, OpenApiMediaType>? content, OpenApiResponses? responses)
    {
        foreach (var media in (content?.Values ?? []).Concat(responses?.Values.SelectMany(r => r.Content?.Values ?? []) ?? []))
        {
            PlainNumbers(media.Schema, 0);
        }
    }

    /// <summary>integer|string and number|string (with a pattern) become plain integer and number, all the way down.</summary>
    private static void PlainNumbers(IOpenApiSchema? schema, int depth)
    {
        if (schema is not OpenApiSchema s || depth > 16)
        {
            return;
        }

        if (s.Type is { } t && (t & (JsonSchemaType.Number | JsonSchemaType.Integer)) != 0 && (t & JsonSchemaType.String) != 0)
        {
            s.Type = t & ~JsonSchemaType.String;
            s.Pattern = null;
        }

        PlainNumbers(s.Items, depth + 1);
        PlainNumbers(s.AdditionalProperties, depth + 1);
        foreach (var p in s.Properties?.Values ?? [])
        {
            PlainNumbers(p, depth + 1);
        }

        foreach (var branch in (s.OneOf ?? []).Concat(s.AnyOf ?? []).Concat(s.AllOf ?? []))
        {
            PlainNumbers(branch, depth + 1);
        }
    }

    /// <summary>A required field is never null, nor are its array's items.</summary>
    private static void NotNull(IOpenApiSchema? schema)
    {
        for (var s = schema as OpenApiSchema; s is not null; s = s.Items as OpenApiSchema)
        {
            if (s.Type is { } t)
            {
                s.Type = t & ~JsonSchemaType.Null;
            }
        }
    }
}
