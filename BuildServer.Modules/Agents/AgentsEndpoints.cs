using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents;

public sealed record AgentResponse(
    long Id, string Name, string Kind, string[] Labels, int Slots, string? Version, string? Org,
    bool Online, DateTimeOffset? LastSeenAt, bool Disabled, bool Draining, DateTimeOffset CreatedAt);

public sealed record WhoAmIResponse(long AgentId, string Name, string[] Labels, bool Disabled, bool Draining);

/// <summary>
/// The agents API: admins list, disable, enable, drain and delete agents and manage registration tokens; agents
/// register (anonymous, with a registration token) and call the agent endpoints under <c>/api/v1/agent</c> with
/// their own token.
/// </summary>
internal static class AgentsEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var agents = endpoints.MapApi("/agents", "Agents");
        agents.MapPost("/register", RegisterAgent.Handle).AllowAnonymous();
        RegistrationTokensEndpoints.Map(agents);

        var admin = agents.MapGroup("/").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        admin.MapGet("/", List);
        admin.MapGet("/{id:long}", Get);
        admin.MapPost("/{id:long}/disable", (long id, AgentAdministration administration, ClaimsPrincipal user, CancellationToken ct) =>
            ChangeAsync(id, AgentAction.Disable, administration, user, ct));
        admin.MapPost("/{id:long}/enable", (long id, AgentAdministration administration, ClaimsPrincipal user, CancellationToken ct) =>
            ChangeAsync(id, AgentAction.Enable, administration, user, ct));
        admin.MapPost("/{id:long}/drain", (long id, AgentAdministration administration, ClaimsPrincipal user, CancellationToken ct) =>
            ChangeAsync(id, AgentAction.Drain, administration, user, ct));
        admin.MapDelete("/{id:long}", Delete);

        var agent = endpoints.MapGroup("/api/v1/agent").WithTags("Agent protocol").RequireAuthorization(AgentAuthentication.PolicyName);
        agent.MapGet("/whoami", WhoAmI);
        agent.MapPut("/self", UpdateSelf);
        Protocol.AgentProtocolEndpoints.Map(agent);
    }

    private static async Task<Ok<AgentResponse[]>> List(BuildDb db, AgentOrgNames orgs, AgentAdministration agents, CancellationToken ct)
    {
        var runners = await db.Set<Runner>().AsNoTracking().OrderBy(r => r.Id).ToListAsync(ct);
        var names = await orgs.NamesAsync(runners.Select(r => r.OrgId), ct);
        return TypedResults.Ok(runners.Select(r => agents.Describe(r, AgentOrgNames.Name(names, r.OrgId))).ToArray());
    }

    private static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> Get(
        long id, BuildDb db, AgentOrgNames orgs, AgentAdministration agents, CancellationToken ct) =>
        await db.Set<Runner>().AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct) is { } runner
            ? TypedResults.Ok(agents.Describe(runner, await orgs.NameAsync(runner.OrgId, ct)))
            : Problems.NotFound("Agent", id);

    private static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> ChangeAsync(
        long id, AgentAction action, AgentAdministration agents, ClaimsPrincipal user, CancellationToken ct)
    {
        var change = await agents.ApplyAsync(id, action, user, ct);
        return change.Value is { } changed ? TypedResults.Ok(changed) : Refused(id, change);
    }

    /// <summary>Removes the agent and its token; its attempts keep their runner id (history stays), and the ones still
    /// running are declared lost at once, so they are retried elsewhere per their policy.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(long id, AgentAdministration agents, ClaimsPrincipal user, CancellationToken ct)
    {
        var change = await agents.ApplyAsync(id, AgentAction.Delete, user, ct);
        return change.Outcome == ChangeOutcome.Done ? TypedResults.NoContent() : Refused(id, change);
    }

    private static ProblemHttpResult Refused(long id, Change<AgentResponse> change) => change.Outcome switch
    {
        ChangeOutcome.NotFound => Problems.NotFound("Agent", id),
        ChangeOutcome.Forbidden => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "This caller may not administer this agent."),
        _ => Problems.Conflict(change.Error!.Message),
    };

    private static async Task<Results<Ok<WhoAmIResponse>, ProblemHttpResult>> WhoAmI(ClaimsPrincipal user, BuildDb db, CancellationToken ct)
    {
        var id = AgentAuthentication.AgentId(user);
        return await db.Set<Runner>().AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct) is { } runner
            ? TypedResults.Ok(new WhoAmIResponse(runner.Id, runner.Name, [.. runner.Labels], runner.Disabled, runner.Draining))
            : Problems.NotFound("Agent", id);
    }

    /// <summary>An agent restarted with other labels, slots or version says so (its name stays: it is how admins know it).</summary>
    private static async Task<Results<Ok<WhoAmIResponse>, ValidationProblem, ProblemHttpResult>> UpdateSelf(
        ClaimsPrincipal user, RegisterAgentRequest request, BuildDb db, WriteGate gate, CancellationToken ct)
    {
        if (request.Name is not null) return Problems.Field("name", "An agent's name is fixed at registration.");
        if (RegisterAgent.Validate(request) is { } invalid) return invalid;
        var id = AgentAuthentication.AgentId(user);
        await using (await gate.EnterAsync(ct))
        {
            var runner = await db.Set<Runner>().FirstOrDefaultAsync(r => r.Id == id, ct);
            if (runner is null) return Problems.NotFound("Agent", id);
            runner.Labels = [.. request.Labels!.Distinct(StringComparer.Ordinal)];
            runner.Slots = request.Slots!.Value;
            runner.Version = request.Version;
            await db.SaveChangesAsync(ct);
            return TypedResults.Ok(new WhoAmIResponse(runner.Id, runner.Name, [.. runner.Labels], runner.Disabled, runner.Draining));
        }
    }
}
