using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Security.Audit;
using BuildServer.Modules.Security.Users;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents;

/// <summary>What an administrator does to an agent.</summary>
public enum AgentAction
{
    /// <summary>Its token is refused from the next request on; it takes no work.</summary>
    Disable,
    /// <summary>Clears both disabled and draining.</summary>
    Enable,
    /// <summary>It finishes its running jobs and takes no new ones.</summary>
    Drain,
    /// <summary>Removes it and its token; its running attempts are declared lost (and retried per their policy).</summary>
    Delete,
}

/// <summary>
/// Disabling, enabling, draining and deleting agents, for the agents API and the agents page alike. Who may: a server
/// admin (or an admin API token) any remote agent; an organisation's admin that organisation's own agents (those
/// registered with its token). The built-in agent is configured, not administered (a conflict). Every change is
/// recorded in the admin log.
/// </summary>
internal sealed class AgentAdministration(
    BuildDb db, WriteGate gate, IOrgAccess access, IAttemptLifecycle attempts, AgentOrgNames orgs, TimeProvider time,
    IOptions<AgentsOptions> options, IAdminLog log)
{
    /// <summary>Whether <paramref name="caller"/> may administer an agent (or a registration token) of <paramref name="orgId"/>
    /// (null: a global one, for server admins only).</summary>
    public static bool MayManage(UserAccess caller, long? orgId) => caller.IsServerAdmin || (orgId is { } org && caller.Allows(org, OrgRole.Admin));

    public async Task<Change<AgentResponse>> ApplyAsync(long id, AgentAction action, ClaimsPrincipal actor, CancellationToken ct)
    {
        var runner = await db.Set<Runner>().AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
        if (runner is null) return Change.NotFound<AgentResponse>();
        if (!MayManage(await access.ForAsync(actor, ct), runner.OrgId)) return Change.Forbidden<AgentResponse>();
        if (runner.Kind == RunnerKinds.BuiltIn)
        {
            return Change.Conflict<AgentResponse>("agent", $"'{runner.Name}' is the server's built-in agent: it is configured by the Agent section " +
                "of appsettings.json (Agent:Slots=0 turns it off), not administered.");
        }
        await using (await gate.EnterAsync(ct))
        {
            var query = db.Set<Runner>().Where(r => r.Id == id);
            var changed = action switch
            {
                AgentAction.Disable => await query.ExecuteUpdateAsync(s => s.SetProperty(r => r.Disabled, true), ct),
                AgentAction.Enable => await query.ExecuteUpdateAsync(s => s.SetProperty(r => r.Disabled, false).SetProperty(r => r.Draining, false), ct),
                AgentAction.Drain => await query.ExecuteUpdateAsync(s => s.SetProperty(r => r.Draining, true), ct),
                _ => await query.ExecuteDeleteAsync(ct),
            };
            if (changed == 0) return Change.NotFound<AgentResponse>(); // deleted in between
        }
        if (action == AgentAction.Delete)
        {
            await attempts.RecoverRunnerAsync(id, $"agent '{runner.Name}' was deleted", ct);
        }
        log.Record(actor, Verb(action) + " agent", string.Create(CultureInfo.InvariantCulture, $"'{runner.Name}' (id {runner.Id})"));
        var after = action == AgentAction.Delete ? runner : await db.Set<Runner>().AsNoTracking().FirstAsync(r => r.Id == id, ct);
        return Change.Done<AgentResponse>(Describe(after, await orgs.NameAsync(after.OrgId, ct)));
    }

    public AgentResponse Describe(Runner r, string? org) =>
        new(r.Id, r.Name, r.Kind, [.. r.Labels], r.Slots, r.Version, org, IsOnline(r), r.LastSeenAt, r.Disabled, r.Draining, r.CreatedAt);

    /// <summary>Seen within <see cref="AgentsOptions.OfflineAfter"/> (whatever it is told: a disabled agent is offline once silent).</summary>
    public bool IsOnline(Runner r) => r.LastSeenAt >= time.GetUtcNow() - options.Value.OfflineAfter;

    private static string Verb(AgentAction action) => action switch
    {
        AgentAction.Disable => "disabled",
        AgentAction.Enable => "enabled",
        AgentAction.Drain => "drained",
        _ => "deleted",
    };
}
