using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

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
        admin.MapPost("/{id:long}/disable", (long id, BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct) =>
            Change(id, r => { r.Disabled = true; }, db, orgs, time, options, ct));
        admin.MapPost("/{id:long}/enable", (long id, BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct) =>
            Change(id, r => { r.Disabled = false; r.Draining = false; }, db, orgs, time, options, ct));
        admin.MapPost("/{id:long}/drain", (long id, BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct) =>
            Change(id, r => { r.Draining = true; }, db, orgs, time, options, ct));
        admin.MapDelete("/{id:long}", Delete);

        var agent = endpoints.MapGroup("/api/v1/agent").WithTags("Agent protocol").RequireAuthorization(AgentAuthentication.PolicyName);
        agent.MapGet("/whoami", WhoAmI);
        agent.MapPut("/self", UpdateSelf);
        Protocol.AgentProtocolEndpoints.Map(agent);
    }

    private static async Task<Ok<AgentResponse[]>> List(BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct)
    {
        var runners = await db.Set<Runner>().AsNoTracking().OrderBy(r => r.Id).ToListAsync(ct);
        var names = await orgs.NamesAsync(runners.Select(r => r.OrgId), ct);
        return TypedResults.Ok(runners.Select(r => Describe(r, AgentOrgNames.Name(names, r.OrgId), time, options.Value)).ToArray());
    }

    private static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> Get(
        long id, BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct) =>
        await db.Set<Runner>().AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct) is { } runner
            ? TypedResults.Ok(Describe(runner, await orgs.NameAsync(runner.OrgId, ct), time, options.Value))
            : Problems.NotFound("Agent", id);

    private static async Task<Results<Ok<AgentResponse>, ProblemHttpResult>> Change(
        long id, Action<Runner> change, BuildDb db, AgentOrgNames orgs, TimeProvider time, IOptions<AgentsOptions> options, CancellationToken ct)
    {
        var runner = await db.Set<Runner>().FirstOrDefaultAsync(r => r.Id == id, ct);
        if (runner is null) return Problems.NotFound("Agent", id);
        if (runner.Kind == RunnerKinds.BuiltIn) return BuiltInRefused(runner);
        change(runner);
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(Describe(runner, await orgs.NameAsync(runner.OrgId, ct), time, options.Value));
    }

    /// <summary>Removes the agent and its token; its attempts keep their runner id (history stays), and the ones still
    /// running are declared lost at once, so they are retried elsewhere per their policy.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(long id, BuildDb db, IAttemptLifecycle attempts, CancellationToken ct)
    {
        var runner = await db.Set<Runner>().AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        if (runner is null) return Problems.NotFound("Agent", id);
        if (runner.Kind == RunnerKinds.BuiltIn) return BuiltInRefused(runner);
        await db.Set<Runner>().Where(r => r.Id == id).ExecuteDeleteAsync(ct);
        await attempts.RecoverRunnerAsync(id, $"agent '{runner.Name}' was deleted", ct);
        return TypedResults.NoContent();
    }

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

    private static ProblemHttpResult BuiltInRefused(Runner runner) =>
        Problems.Conflict($"'{runner.Name}' is the server's built-in agent: it is configured by the Agent section of appsettings.json " +
                          "(Agent:Slots=0 turns it off), not through this API.");

    private static AgentResponse Describe(Runner r, string? org, TimeProvider time, AgentsOptions options) =>
        new(r.Id, r.Name, r.Kind, [.. r.Labels], r.Slots, r.Version, org,
            r.LastSeenAt >= time.GetUtcNow() - options.OfflineAfter, r.LastSeenAt, r.Disabled, r.Draining, r.CreatedAt);
}
