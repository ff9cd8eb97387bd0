using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Hosting;

/// <summary>RFC 7807 responses that name the offending field, shared by every module's endpoints.</summary>
public static partial class Problems
{
    public static ValidationProblem Field(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult NotFound(string what, object id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"{what} '{id}' does not exist.");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    internal static IServiceCollection AddBuildServerProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Malformed bodies and bad route/query values throw BadHttpRequestException so that the handler
        // below can say which field was wrong instead of returning an empty 400.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    private sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not BadHttpRequestException bad)
            {
                return false;
            }
            var (field, detail) = Describe(bad);
            context.Response.StatusCode = bad.StatusCode;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                Exception = exception,
                ProblemDetails =
                {
                    Status = bad.StatusCode,
                    Title = "Bad request",
                    Detail = detail,
                    Extensions = { ["errors"] = new Dictionary<string, string[]> { [field] = [detail] } },
                },
            });
        }

        private static (string Field, string Detail) Describe(BadHttpRequestException bad)
        {
            if (bad.InnerException is JsonException json)
            {
                var path = json.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "body";
                return (path, $"The request body is not valid JSON for this endpoint at '{json.Path ?? "$"}' " +
                              $"(line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1}).");
            }
            // Minimal APIs say 'Failed to bind parameter "Nullable<int> wait" from "soon".' for a route or query value.
            if (BindFailure().Match(bad.Message) is { Success: true } m)
            {
                var name = m.Groups["name"].Value;
                return (name, $"'{m.Groups["value"].Value}' is not a valid {name}: {Expected(m.Groups["type"].Value)} is expected.");
            }
            return ("request", bad.Message);
        }

        private static string Expected(string type) => type.Replace("Nullable<", "", StringComparison.Ordinal).TrimEnd('>') switch
        {
            "int" or "long" or "Int32" or "Int64" or "short" => "a whole number",
            "bool" or "Boolean" => "true or false",
            "double" or "decimal" or "float" => "a number",
            "DateTimeOffset" or "DateTime" => "a date and time (ISO 8601)",
            "Guid" => "a GUID",
            _ => "a value of type " + type,
        };
    }

    [GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]+) (?<name>\w+)" from "(?<value>[^"]*)"\.?$""")]
    private static partial Regex BindFailure();
}
