using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
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
/// Anyone signed in may read them; only admins create and change them.</summary>
internal static class OrgsEndpoints
{
    public const double MaxWeight = 1000;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/orgs", "Organisations");
        group.MapGet("/", List);
        group.MapGet("/{org}", Get);
        group.MapPost("/", Create).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapPatch("/{org}", Update).RequireAuthorization(p => p.RequireRole(Roles.Admin));
    }

    private static async Task<Ok<OrgResponse[]>> List(BuildDb db, CancellationToken ct) =>
        TypedResults.Ok(await db.Set<Organization>().AsNoTracking().OrderBy(o => o.Name)
            .Select(o => new OrgResponse(o.Id, o.Name, o.MaxRunning, o.Weight, o.CreatedAt)).ToArrayAsync(ct));

    private static async Task<Results<Ok<OrgResponse>, ProblemHttpResult>> Get(string org, BuildDb db, CancellationToken ct) =>
        await Find(db, org).AsNoTracking().Select(o => new OrgResponse(o.Id, o.Name, o.MaxRunning, o.Weight, o.CreatedAt)).FirstOrDefaultAsync(ct)
            is { } found ? TypedResults.Ok(found) : Problems.NotFound("Organisation", org);

    private static async Task<Results<Created<OrgResponse>, ValidationProblem, ProblemHttpResult>> Create(
        OrgRequest request, BuildDb db, ReadyAttempts ready, TimeProvider time, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || !ProjectsEndpoints.IsValidName(request.Name))
        {
            return Problems.Field("name", ProjectsEndpoints.OrgNameRule);
        }
        if (ValidateShare(request) is { } invalid) return invalid;
        if (await db.Set<Organization>().AnyAsync(o => o.Name == request.Name, ct))
        {
            return Problems.Conflict($"An organisation named '{request.Name}' already exists.");
        }
        var org = db.Add(new Organization
        {
            Name = request.Name,
            MaxRunning = request.MaxRunning ?? 0,
            Weight = request.Weight ?? 1,
            CreatedAt = time.GetUtcNow(),
        }).Entity;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return Problems.Conflict($"An organisation named '{request.Name}' already exists.");
        }
        ready.SetShare(org.Id, new OrgShare(org.MaxRunning, org.Weight));
        return TypedResults.Created($"/api/v1/orgs/{org.Name}", new OrgResponse(org.Id, org.Name, org.MaxRunning, org.Weight, org.CreatedAt));
    }

    private static async Task<Results<Ok<OrgResponse>, ValidationProblem, ProblemHttpResult>> Update(
        string org, OrgRequest request, BuildDb db, ReadyAttempts ready, IDispatchSignal dispatch, CancellationToken ct)
    {
        if (request.Name is not null)
        {
            return Problems.Field("name", "An organisation cannot be renamed.");
        }
        if (ValidateShare(request) is { } invalid) return invalid;
        var found = await Find(db, org).FirstOrDefaultAsync(ct);
        if (found is null) return Problems.NotFound("Organisation", org);
        found.MaxRunning = request.MaxRunning ?? found.MaxRunning;
        found.Weight = request.Weight ?? found.Weight;
        await db.SaveChangesAsync(ct);
        ready.SetShare(found.Id, new OrgShare(found.MaxRunning, found.Weight));
        dispatch.Notify(); // a raised quota may let waiting jobs start now
        return TypedResults.Ok(new OrgResponse(found.Id, found.Name, found.MaxRunning, found.Weight, found.CreatedAt));
    }

    private static ValidationProblem? ValidateShare(OrgRequest request)
    {
        if (request.MaxRunning is < 0 or > 100_000)
        {
            return Problems.Field("maxRunning", "maxRunning is the most jobs of the organisation that run at once: 0 (no limit) to 100000.");
        }
        if (request.Weight is { } weight && (double.IsNaN(weight) || weight <= 0 || weight > MaxWeight))
        {
            return Problems.Field("weight", $"weight must be greater than 0 and at most {MaxWeight}.");
        }
        return null;
    }

    private static IQueryable<Organization> Find(BuildDb db, string org) =>
        long.TryParse(org, out var id) ? db.Set<Organization>().Where(o => o.Id == id) : db.Set<Organization>().Where(o => o.Name == org);
}
