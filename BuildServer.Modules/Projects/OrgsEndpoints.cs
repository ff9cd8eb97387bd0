using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

/// <param name="MaxRunning">At most this many of the organisation's jobs run at once; 0 = no limit.</param>
/// <param name="Weight">Its share when organisations compete for the same agents (default 1).</param>
public sealed record OrgRequest(string? Name, int? MaxRunning, double? Weight);

public sealed record OrgResponse(long Id, string Name, int MaxRunning, double Weight, DateTimeOffset CreatedAt);

/// <summary>Organisations: who shares the agents, with a quota of running jobs and a fair-share weight.
/// Anyone signed in may read them; only admins create and change them (through <see cref="OrgAdministration"/>, as the
/// admin page does).</summary>
internal static class OrgsEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/orgs", "Organisations");
        group.MapGet("/", List);
        group.MapGet("/{org}", Get);
        group.MapPost("/", Create).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapPatch("/{org}", Update).RequireAuthorization(p => p.RequireRole(Roles.Admin));
    }

    private static async Task<Ok<OrgResponse[]>> List(OrgAdministration orgs, CancellationToken ct) => TypedResults.Ok(await orgs.ListAsync(ct));

    private static async Task<Results<Ok<OrgResponse>, ProblemHttpResult>> Get(string org, OrgAdministration orgs, CancellationToken ct) =>
        await orgs.Find(org).AsNoTracking().Select(o => new OrgResponse(o.Id, o.Name, o.MaxRunning, o.Weight, o.CreatedAt)).FirstOrDefaultAsync(ct)
            is { } found ? TypedResults.Ok(found) : Problems.NotFound("Organisation", org);

    private static async Task<Results<Created<OrgResponse>, ValidationProblem, ProblemHttpResult>> Create(
        OrgRequest request, OrgAdministration orgs, ClaimsPrincipal user, CancellationToken ct) =>
        await orgs.CreateAsync(request, user, ct) switch
        {
            { Value: { } created } => TypedResults.Created($"/api/v1/orgs/{created.Name}", created),
            { Outcome: ChangeOutcome.Conflict } refused => Problems.Conflict(refused.Error!.Message),
            var refused => refused.Error!.Problem(),
        };

    private static async Task<Results<Ok<OrgResponse>, ValidationProblem, ProblemHttpResult>> Update(
        string org, OrgRequest request, OrgAdministration orgs, ClaimsPrincipal user, CancellationToken ct) =>
        await orgs.UpdateAsync(org, request, user, ct) switch
        {
            { Value: { } changed } => TypedResults.Ok(changed),
            { Outcome: ChangeOutcome.NotFound } => Problems.NotFound("Organisation", org),
            var refused => refused.Error!.Problem(),
        };
}
