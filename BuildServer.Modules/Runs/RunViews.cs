using System.Globalization;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs.Waiting;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

public sealed record StepView(long Id, int Index, string Name, Status Status, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int? ExitCode);

public sealed record AttemptEventView(DateTimeOffset At, string Kind, Status? From, Status To, string? Reason, string Actor);

public sealed record AttemptView(
    long Id, int Number, Status Status, long? RunnerId, DateTimeOffset QueuedAt, DateTimeOffset? AssignedAt,
    DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int? ExitCode, string? FailureReason,
    IReadOnlyList<StepView> Steps, IReadOnlyList<AttemptEventView>? Events = null,
    DateTimeOffset? NotBefore = null, DateTimeOffset? TimeoutAt = null);

public sealed record JobView(
    long Id, long RunId, string Key, string Name, Status Status, string? StatusReason, IReadOnlyList<string> Needs,
    IReadOnlyList<string> RunsOn, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, IReadOnlyList<AttemptView> Attempts);

public sealed record RunSummary(
    long Id, long ProjectId, long Number, string Name, Status Status, string? Ref, string? Sha, string TriggeredBy,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

public sealed record RunView(
    long Id, long ProjectId, long Number, string Name, Status Status, string? Ref, string? Sha, string TriggeredBy,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, DateTimeOffset? CancelRequestedAt,
    IReadOnlyList<JobView> Jobs);

/// <summary>Read-side queries of the Runs module (no tracking). A job whose queued attempt waits for its
/// organisation's quota is shown pending, with that reason (<see cref="QuotaWaits"/>).</summary>
internal sealed class RunViews(BuildDb db, ReadyAttempts ready, IOrganizationDirectory orgs)
{
    public async Task<RunView?> RunAsync(long id, CancellationToken ct)
    {
        var run = await db.Set<Run>().AsNoTracking().AsSplitQuery()
            .Include(r => r.Jobs).ThenInclude(j => j.Attempts).ThenInclude(a => a.Steps)
            .FirstOrDefaultAsync(r => r.Id == id, ct);
        if (run is null) return null;
        var view = ToView(run);
        return QuotaWaits.AnyHeld(view.Jobs, ready) ? QuotaWaits.Show(view, ready, await OrgNameAsync(run.OrgId, ct)) : view;
    }

    private async Task<string> OrgNameAsync(long orgId, CancellationToken ct)
    {
        var id = orgId.ToString(CultureInfo.InvariantCulture);
        return (await orgs.FindAsync(id, ct))?.Name ?? id;
    }

    /// <summary>The view of a run whose jobs, attempts and steps are loaded (or were just created).</summary>
    internal static RunView ToView(Run run) => new(run.Id, run.ProjectId, run.Number, run.Name, run.Status, run.Ref, run.Sha,
        run.TriggeredBy, run.CreatedAt, run.StartedAt, run.FinishedAt, run.CancelRequestedAt,
        run.Jobs.OrderBy(j => j.Id).Select(j => ToView(j, null)).ToList());

    public async Task<JobView?> JobAsync(long id, CancellationToken ct)
    {
        var job = await db.Set<Job>().AsNoTracking().AsSplitQuery()
            .Include(j => j.Attempts).ThenInclude(a => a.Steps)
            .FirstOrDefaultAsync(j => j.Id == id, ct);
        if (job is null)
        {
            return null;
        }
        var attemptIds = job.Attempts.Select(a => a.Id).ToList();
        var events = await db.Set<AttemptEvent>().AsNoTracking().Where(e => attemptIds.Contains(e.AttemptId))
            .OrderBy(e => e.Id).ToListAsync(ct);
        var view = ToView(job, events.ToLookup(e => e.AttemptId));
        if (!QuotaWaits.AnyHeld([view], ready)) return view;
        var orgId = await db.Set<Run>().Where(r => r.Id == job.RunId).Select(r => r.OrgId).FirstAsync(ct);
        return QuotaWaits.Show(view, ready, await OrgNameAsync(orgId, ct));
    }

    public async Task<AttemptView?> AttemptAsync(long id, CancellationToken ct)
    {
        var jobId = await db.Set<JobAttempt>().Where(a => a.Id == id).Select(a => (long?)a.JobId).FirstOrDefaultAsync(ct);
        return jobId is null ? null : (await JobAsync(jobId.Value, ct))?.Attempts.Single(a => a.Id == id);
    }

    public async Task<IReadOnlyList<RunSummary>> RunsAsync(long? projectId, Status? status, long? before, int limit, CancellationToken ct)
    {
        var query = db.Set<Run>().AsNoTracking();
        if (projectId is { } p) query = query.Where(r => r.ProjectId == p);
        if (status is { } s) query = query.Where(r => r.Status == s);
        if (before is { } b) query = query.Where(r => r.Id < b);
        return await query.OrderByDescending(r => r.Id).Take(limit)
            .Select(r => new RunSummary(r.Id, r.ProjectId, r.Number, r.Name, r.Status, r.Ref, r.Sha, r.TriggeredBy, r.CreatedAt, r.StartedAt, r.FinishedAt))
            .ToListAsync(ct);
    }

    /// <summary>Where a log is: the attempt's file and, for a step, its byte range.</summary>
    public Task<Logs.LogRange?> StepLogAsync(long stepId, CancellationToken ct) =>
        db.Set<Step>().AsNoTracking().Where(s => s.Id == stepId)
            .Select(s => new Logs.LogRange(s.Attempt!.RunId, s.AttemptId, s.LogStart,
                s.StartedAt == null ? s.LogStart : s.LogEnd)) // a step that never ran has an empty log
            .FirstOrDefaultAsync(ct);

    public async Task<Logs.LogRange?> JobLogAsync(long jobId, int? attemptNumber, CancellationToken ct)
    {
        var query = db.Set<JobAttempt>().AsNoTracking().Where(a => a.JobId == jobId);
        query = attemptNumber is { } n ? query.Where(a => a.Number == n) : query.OrderByDescending(a => a.Number);
        return await query.Select(a => new Logs.LogRange(a.RunId, a.Id, 0, null)).FirstOrDefaultAsync(ct);
    }

    private static JobView ToView(Job j, ILookup<long, AttemptEvent>? events) => new(
        j.Id, j.RunId, j.Key, j.Name, j.Status, j.StatusReason, j.Needs, j.RunsOn, j.StartedAt, j.FinishedAt,
        j.Attempts.OrderBy(a => a.Number).Select(a => new AttemptView(
            a.Id, a.Number, a.Status, a.RunnerId, a.QueuedAt, a.AssignedAt, a.StartedAt, a.FinishedAt, a.ExitCode, a.FailureReason,
            a.Steps.OrderBy(s => s.Index).Select(s => new StepView(s.Id, s.Index, s.Name, s.Status, s.StartedAt, s.FinishedAt, s.ExitCode)).ToList(),
            events?[a.Id].Select(e => new AttemptEventView(e.At, e.Kind, e.From, e.To, e.Reason, e.Actor)).ToList(),
            a.NotBefore, a.TimeoutAt)).ToList());
}
