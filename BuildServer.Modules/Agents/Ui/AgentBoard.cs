using System.Globalization;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Security.Users;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents.Ui;

/// <summary>An attempt an agent runs now, as its row links to it (<c>/jobs/{JobId}</c>).</summary>
public sealed record AgentWork(long JobId, string Job, string Project, long RunNumber, int Attempt, DateTimeOffset? StartedAt);

/// <summary>An agent as the agents page shows it to one user.</summary>
/// <param name="Running">Its attempts in organisations the user may see.</param>
/// <param name="SlotsInUse">All its running attempts, whoever's (the others are counted, not named).</param>
/// <param name="Manageable">The user may disable, drain, enable or delete it (and it is not the built-in agent).</param>
public sealed record AgentRow(AgentResponse Agent, IReadOnlyList<AgentWork> Running, int SlotsInUse, bool Manageable)
{
    public bool BuiltIn => Agent.Kind == RunnerKinds.BuiltIn;

    /// <summary>"disabled", "draining" or "enabled": what it is told, whether or not it is online.</summary>
    public string State => Agent.Disabled ? "disabled" : Agent.Draining ? "draining" : "enabled";
}

/// <summary>The agents page's reads. A user sees the global agents and those of the organisations they may see (a server
/// admin: all); the attempts they run are named only in organisations the user may see.</summary>
internal sealed class AgentBoard(
    BuildDb db, AgentAdministration agents, AgentOrgNames orgs, IRunningAttempts running, IProjectDirectory projects, IOrganizationList orgList)
{
    public async Task<IReadOnlyList<AgentRow>> AgentsAsync(UserAccess user, CancellationToken ct)
    {
        var runners = (await db.Set<Runner>().AsNoTracking().OrderBy(r => r.Kind).ThenBy(r => r.Name).ToListAsync(ct))
            .Where(r => r.OrgId is not { } org || user.Allows(org, OrgRole.Viewer)).ToList();
        var names = await orgs.NamesAsync(runners.Select(r => r.OrgId), ct);
        var work = (await running.ListAsync(ct)).ToLookup(a => a.RunnerId);
        var rows = new List<AgentRow>(runners.Count);
        foreach (var runner in runners)
        {
            var visible = new List<AgentWork>();
            foreach (var attempt in work[runner.Id].Where(a => user.Allows(a.OrgId, OrgRole.Viewer)))
            {
                var project = (await projects.FindAsync(attempt.ProjectId.ToString(CultureInfo.InvariantCulture), ct))?.Name ?? $"#{attempt.ProjectId}";
                visible.Add(new AgentWork(attempt.JobId, attempt.Job, project, attempt.RunNumber, attempt.Number, attempt.StartedAt));
            }
            rows.Add(new AgentRow(agents.Describe(runner, AgentOrgNames.Name(names, runner.OrgId)), visible, work[runner.Id].Count(),
                runner.Kind != RunnerKinds.BuiltIn && AgentAdministration.MayManage(user, runner.OrgId)));
        }
        return rows;
    }

    /// <summary>The organisations <paramref name="user"/> may create registration tokens for (all, for a server admin).</summary>
    public async Task<IReadOnlyList<OrgName>> TokenOrgsAsync(UserAccess user, CancellationToken ct) =>
        (await orgList.ListAsync(ct)).Where(o => AgentAdministration.MayManage(user, o.Id)).ToList();
}
