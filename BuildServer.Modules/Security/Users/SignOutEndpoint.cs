using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Security.Users;

/// <summary><c>POST /signout</c>: a form post from the layout, antiforgery-checked (<see cref="FormPosts"/>), that ends the cookie session.</summary>
internal static class SignOutEndpoint
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost(UiCookie.SignOutPath, (Delegate)SignOut).RequireAntiforgeryToken().ExcludeFromDescription();

    private static async Task<RedirectHttpResult> SignOut(HttpContext context)
    {
        await context.SignOutAsync(UiCookie.SchemeName);
        return TypedResults.LocalRedirect(UiCookie.SignInPath);
    }
}
