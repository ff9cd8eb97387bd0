using System.Globalization;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs.Waiting;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>What the run page shows: the run with every job, attempt and attempt event, and whose it is.</summary>
internal sealed record RunPageModel(RunView Run, long OrgId, string Project, string Org)
{
    /// <summary>Whether "re-run failed jobs" has something to do (as <see cref="RerunFailedJobs"/> decides).</summary>
    public bool HasFailedJobs => Run.Jobs.Any(j => j.Attempts.Count > 0 && RerunFailedJobs.IsRerunnable(j.Status));
}

/// <summary>
/// The run page's read: four narrow queries (the run, its jobs, their attempts, the attempts' events), no step rows and
/// none of the jobs' stored specs, so a 200-job run loads in one round of a few milliseconds each. A job whose queued
/// attempt waits for its organisation's quota is shown pending with that reason, as everywhere (<see cref="QuotaWaits"/>).
/// </summary>
internal sealed class RunPageQuery(BuildDb db, ReadyAttempts ready, IProjectDirectory projects, IOrganizationDirectory orgs)
{
    public async Task<RunPageModel?> LoadAsync(long runId, CancellationToken ct)
    {
        var run = await db.Set<Run>().AsNoTracking().Where(r => r.Id == runId)
            .Select(r => new { r.Id, r.ProjectId, r.OrgId, r.Number, r.Name, r.Status, r.Ref, r.Sha, r.TriggeredBy, r.CreatedAt, r.StartedAt, r.FinishedAt, r.CancelRequestedAt })
            .FirstOrDefaultAsync(ct);
        if (run is null) return null;
        var jobs = await db.Set<Job>().AsNoTracking().Where(j => j.RunId == runId).OrderBy(j => j.Id)
            .Select(j => new { j.Id, j.Key, j.Name, j.Status, j.StatusReason, j.Needs, j.RunsOn, j.StartedAt, j.FinishedAt })
            .ToListAsync(ct);
        var attempts = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.RunId == runId).OrderBy(a => a.Number)
            .Select(a => new { a.Id, a.JobId, a.Number, a.Status, a.RunnerId, a.QueuedAt, a.AssignedAt, a.StartedAt, a.FinishedAt, a.ExitCode, a.FailureReason, a.NotBefore, a.TimeoutAt })
            .ToListAsync(ct);
        var events = (await db.Set<AttemptEvent>().AsNoTracking().Where(e => e.Attempt!.RunId == runId).OrderBy(e => e.Id)
            .Select(e => new { e.AttemptId, View = new AttemptEventView(e.At, e.Kind, e.From, e.To, e.Reason, e.Actor) })
            .ToListAsync(ct)).ToLookup(e => e.AttemptId, e => e.View);
        var byJob = attempts.ToLookup(a => a.JobId, a => new AttemptView(a.Id, a.Number, a.Status, a.RunnerId, a.QueuedAt, a.AssignedAt,
            a.StartedAt, a.FinishedAt, a.ExitCode, a.FailureReason, [], events[a.Id].ToList(), a.NotBefore, a.TimeoutAt));
        var view = new RunView(run.Id, run.ProjectId, run.Number, run.Name, run.Status, run.Ref, run.Sha, run.TriggeredBy,
            run.CreatedAt, run.StartedAt, run.FinishedAt, run.CancelRequestedAt,
            jobs.Select(j => new JobView(j.Id, runId, j.Key, j.Name, j.Status, j.StatusReason, j.Needs, j.RunsOn, j.StartedAt, j.FinishedAt,
                byJob[j.Id].ToList())).ToList());
        var org = await NameAsync(run.OrgId, id => orgs.FindAsync(id, ct), o => o?.Name);
        var project = await NameAsync(run.ProjectId, id => projects.FindAsync(id, ct), p => p?.Name);
        if (QuotaWaits.AnyHeld(view.Jobs, ready)) view = QuotaWaits.Show(view, ready, org);
        return new RunPageModel(view, run.OrgId, project, org);
    }

    private static async Task<string> NameAsync<T>(long id, Func<string, Task<T>> find, Func<T, string?> name)
    {
        var text = id.ToString(CultureInfo.InvariantCulture);
        return name(await find(text)) ?? "#" + text;
    }
}
