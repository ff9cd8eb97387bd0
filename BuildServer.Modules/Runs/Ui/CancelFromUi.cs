using System.Security.Claims;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Ui;

/// <summary><c>POST /runs/{id}/cancel</c>: the UI's cancel button, a form post. Antiforgery-checked, and the caller must be a
/// member (or admin) of the run's organisation, asked again here whatever the page showed. It goes back to the dashboard,
/// or to the run page when the form says <c>from=run</c>.</summary>
internal static class CancelFromUi
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost("/runs/{id:long}/cancel", CancelAsync).RequireAntiforgeryToken().ExcludeFromDescription();

    private static async Task<Results<RedirectHttpResult, NotFound, StatusCodeHttpResult>> CancelAsync(
        long id, BuildDb db, CancelRun cancel, IAuthorizationService authorization, ClaimsPrincipal user, HttpRequest request, CancellationToken ct)
    {
        var orgId = await db.Set<Run>().Where(r => r.Id == id).Select(r => (long?)r.OrgId).FirstOrDefaultAsync(ct);
        if (orgId is null) return TypedResults.NotFound();
        if (!(await authorization.AuthorizeAsync(user, orgId.Value, OrgPolicies.Member)).Succeeded)
        {
            return TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }
        await cancel.CancelAsync(id, user.Identity?.Name ?? "ui", ct);
        var fromRunPage = request.HasFormContentType && (await request.ReadFormAsync(ct))["from"] == "run";
        return TypedResults.LocalRedirect(fromRunPage ? $"/runs/{id}" : "/");
    }
}
