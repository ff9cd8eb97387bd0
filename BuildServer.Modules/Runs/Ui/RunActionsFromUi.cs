using System.Security.Claims;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using BuildServer.Modules.Security;

namespace BuildServer.Modules.Runs.Ui;

/// <summary><c>POST /runs/{id}/rerun</c> and <c>/runs/{id}/rerun-failed</c>: the run page's re-run buttons, form posts.
/// Antiforgery-checked; the caller must be a member (or admin) of the run's organisation, asked again here whatever the
/// page showed (a run the caller may not even see is 404). They redirect to the new run, or back to the run; when nothing
/// was done, with a notice saying why.</summary>
internal static class RunActionsFromUi
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/runs/{id:long}/rerun", RerunAsync).RequireAntiforgeryToken().ExcludeFromDescription();
        endpoints.MapPost("/runs/{id:long}/rerun-failed", RerunFailedAsync).RequireAntiforgeryToken().ExcludeFromDescription();
    }

    private static async Task<Results<RedirectHttpResult, NotFound, StatusCodeHttpResult>> RerunAsync(
        long id, BuildDb db, RerunRun rerun, IAuthorizationService authorization, ClaimsPrincipal user, CancellationToken ct)
    {
        if (await RefusedAsync(id, db, authorization, user, ct) is { } refused) return refused;
        var result = await rerun.RerunAsync(id, user.Identity?.Name ?? "ui", ct);
        return result switch
        {
            { Trigger.Run: { } created } => TypedResults.LocalRedirect($"/runs/{created.Id}"),
            { Outcome: RerunOutcome.NotFinished } => BackTo(id, "not-finished"),
            { Outcome: RerunOutcome.NotFound } => TypedResults.NotFound(), // its project was deleted
            _ => BackTo(id, "refused"),
        };
    }

    private static async Task<Results<RedirectHttpResult, NotFound, StatusCodeHttpResult>> RerunFailedAsync(
        long id, BuildDb db, RerunFailedJobs rerun, IAuthorizationService authorization, ClaimsPrincipal user, CancellationToken ct)
    {
        if (await RefusedAsync(id, db, authorization, user, ct) is { } refused) return refused;
        return await rerun.RerunAsync(id, user.Identity?.Name ?? "ui", ct) switch
        {
            RerunOutcome.NotFound => TypedResults.NotFound(),
            RerunOutcome.NotFinished => BackTo(id, "not-finished"),
            RerunOutcome.NothingFailed => BackTo(id, "nothing-failed"),
            _ => BackTo(id, null),
        };
    }

    /// <summary>404 for a run that does not exist or that the caller may not see, 403 without the member role, else null.</summary>
    internal static async Task<Results<RedirectHttpResult, NotFound, StatusCodeHttpResult>?> RefusedAsync(
        long id, BuildDb db, IAuthorizationService authorization, ClaimsPrincipal user, CancellationToken ct)
    {
        var orgId = await db.Set<Run>().Where(r => r.Id == id).Select(r => (long?)r.OrgId).FirstOrDefaultAsync(ct);
        if (orgId is null || !(await authorization.AuthorizeAsync(user, orgId.Value, OrgPolicies.Viewer)).Succeeded)
        {
            return TypedResults.NotFound();
        }
        if (!(await authorization.AuthorizeAsync(user, orgId.Value, OrgPolicies.Member)).Succeeded)
        {
            return TypedResults.StatusCode(StatusCodes.Status403Forbidden);
        }
        return null;
    }

    private static RedirectHttpResult BackTo(long id, string? notice) =>
        TypedResults.LocalRedirect(notice is null ? $"/runs/{id}" : $"/runs/{id}?notice={notice}");
}
