using System.Globalization;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Runs.Waiting;

/// <summary>"Why is this job waiting": one job's reason, and the queue of every waiting job with its reason.
/// Anyone signed in may read them.</summary>
internal static class WaitingEndpoints
{
    public const int MaxLimit = 500;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapApi("/jobs", "Runs").MapGet("/{id:long}/wait-reason", WaitReason);
        endpoints.MapApi("/queue", "Runs").MapGet("/", Queue);
    }

    /// <summary>A job that does not wait (running, finished) answers 200 too, with the reason <c>not_waiting</c>:
    /// the question has an answer, and a client polling a job needs no special case when it starts.</summary>
    private static async Task<Results<Ok<JobWait>, ProblemHttpResult>> WaitReason(long id, WaitReasons reasons, CancellationToken ct) =>
        await reasons.ForJobAsync(id, ct) is { } wait ? TypedResults.Ok(wait) : Problems.NotFound("Job", id);

    private static async Task<Results<Ok<IReadOnlyList<JobWait>>, ValidationProblem>> Queue(
        string? org, string? lane, string? project, string? limit,
        WaitReasons reasons, IOrganizationDirectory orgs, IProjectDirectory projects, CancellationToken ct)
    {
        long? orgId = null, projectId = null;
        Lane? laneFilter = null;
        if (org is not null)
        {
            if (await orgs.FindAsync(org, ct) is not { } found) return Problems.Field("org", $"Unknown organisation '{org}'.");
            orgId = found.Id;
        }
        if (project is not null)
        {
            if (await projects.FindAsync(project, ct) is not { } found) return Problems.Field("project", $"Unknown project '{project}'.");
            projectId = found.Id;
        }
        if (lane is not null)
        {
            if (!Lanes.TryParse(lane, out var parsed))
            {
                return Problems.Field("lane", $"Unknown lane '{lane}'; the lanes are: {string.Join(", ", Lanes.All.Select(l => l.ToWire()))}.");
            }
            laneFilter = parsed;
        }
        var take = 100;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > MaxLimit))
        {
            return Problems.Field("limit", $"The limit must be a whole number from 1 to {MaxLimit}.");
        }
        return TypedResults.Ok(await reasons.QueueAsync(new QueueFilter(orgId, projectId, laneFilter, take), ct));
    }
}
