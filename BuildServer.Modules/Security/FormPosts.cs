using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BuildServer.Modules.Security;

/// <summary>
/// The web UI's plain form posts (sign-out, a page's action buttons) to minimal-API endpoints. The antiforgery
/// middleware (<c>UseAntiforgery</c>, which endpoints with this metadata need) only records whether a request's token
/// is valid; an endpoint that binds no form field never looks, so this filter does: a post without a valid token is
/// answered 400 and the handler does not run. The answer carries its own body: the UI's status page cannot be
/// re-executed for it (the re-executed post would be read as a form with the same invalid token).
/// </summary>
public static class FormPosts
{
    public static RouteHandlerBuilder RequireAntiforgeryToken(this RouteHandlerBuilder endpoint) => endpoint
        .WithMetadata(new RequireAntiforgeryTokenAttribute())
        .AddEndpointFilter(async (context, next) =>
        {
            var validation = context.HttpContext.Features.Get<IAntiforgeryValidationFeature>()
                ?? throw new InvalidOperationException("The antiforgery middleware (app.UseAntiforgery()) must run before the endpoints.");
            return validation.IsValid
                ? await next(context)
                : TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: "The form was sent without its antiforgery token: reload its page and send it from there.");
        });
}
