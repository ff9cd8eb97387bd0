using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>Jobs not finished in one lane of one organisation. <paramref name="Waiting"/>: pending (needs, retry backoff,
/// concurrency group) or queued but held by the organisation's quota; <paramref name="Queued"/>: ready for an agent.</summary>
public sealed record ActiveJobs(Lane Lane, long OrgId, string Org, int Running, int Queued, int Waiting);

/// <summary>A run as the dashboard lists it.</summary>
public sealed record RunRow(
    long Id, long Number, string Name, string Project, long OrgId, string Org, Status Status, string? Ref, string? Sha,
    string TriggeredBy, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>The dashboard's reads: what is active per lane and organisation, and the latest runs. <c>orgs</c> limits
/// both to those organisations (null: all, for a server admin).</summary>
internal sealed class RunBoard(BuildDb db, ReadyAttempts ready, IOrganizationDirectory orgs, IProjectDirectory projects)
{
    private static readonly Status[] Active = [Status.Pending, Status.Queued, Status.Running];

    public async Task<IReadOnlyList<ActiveJobs>> ActiveJobsAsync(IReadOnlySet<long>? visible, CancellationToken ct)
    {
        var jobs = await db.Set<Job>().AsNoTracking()
            .Where(j => Active.Contains(j.Run!.Status) && Active.Contains(j.Status))
            .Where(j => visible == null || visible.Contains(j.Run!.OrgId))
            .Select(j => new
            {
                j.Lane,
                j.Run!.OrgId,
                j.Status,
                Queued = j.Attempts.Where(a => a.Status == Status.Queued).Select(a => (long?)a.Id).FirstOrDefault(),
            })
            .ToListAsync(ct);
        var rows = new List<ActiveJobs>();
        foreach (var group in jobs.GroupBy(j => (j.Lane, j.OrgId)).OrderBy(g => g.Key.Lane).ThenBy(g => g.Key.OrgId))
        {
            int running = 0, queued = 0, waiting = 0;
            foreach (var job in group)
            {
                if (job.Status == Status.Running) running++;
                else if (job.Status == Status.Queued && !(job.Queued is { } id && ready.HeldByQuota(id) is not null)) queued++;
                else waiting++;
            }
            rows.Add(new ActiveJobs(group.Key.Lane, group.Key.OrgId, await OrgNameAsync(group.Key.OrgId, ct), running, queued, waiting));
        }
        return rows;
    }

    public async Task<IReadOnlyList<RunRow>> LastRunsAsync(IReadOnlySet<long>? visible, int limit, CancellationToken ct)
    {
        var runs = await db.Set<Run>().AsNoTracking()
            .Where(r => visible == null || visible.Contains(r.OrgId))
            .OrderByDescending(r => r.Id).Take(limit)
            .Select(r => new { r.Id, r.Number, r.Name, r.ProjectId, r.OrgId, r.Status, r.Ref, r.Sha, r.TriggeredBy, r.CreatedAt, r.StartedAt, r.FinishedAt })
            .ToListAsync(ct);
        var rows = new List<RunRow>(runs.Count);
        foreach (var r in runs)
        {
            var project = (await projects.FindAsync(r.ProjectId.ToString(System.Globalization.CultureInfo.InvariantCulture), ct))?.Name ?? $"#{r.ProjectId}";
            rows.Add(new RunRow(r.Id, r.Number, r.Name, project, r.OrgId, await OrgNameAsync(r.OrgId, ct), r.Status, r.Ref, r.Sha,
                r.TriggeredBy, r.CreatedAt, r.StartedAt, r.FinishedAt));
        }
        return rows;
    }

    private async Task<string> OrgNameAsync(long orgId, CancellationToken ct) =>
        (await orgs.FindAsync(orgId.ToString(System.Globalization.CultureInfo.InvariantCulture), ct))?.Name ?? $"#{orgId}";
}
