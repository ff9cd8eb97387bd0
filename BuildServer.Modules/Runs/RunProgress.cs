using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>
/// Moves a run's DAG forward after one of its jobs changed. Callers hold the run's row lock
/// (<see cref="LockRunAsync"/>) inside their transaction, so sibling jobs finishing at the same moment
/// see each other's results and a dependent is admitted exactly once.
/// </summary>
internal static class RunProgress
{
    /// <summary>Bumps the run's version: the write takes SQLite's write lock / PostgreSQL's row lock until commit.</summary>
    public static Task<int> LockRunAsync(BuildDb db, long runId, CancellationToken ct) =>
        db.Set<Run>().Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.Version, r => r.Version + 1), ct);

    public static Task<Run> LoadAsync(BuildDb db, long runId, CancellationToken ct) =>
        db.Set<Run>().Include(r => r.Jobs).ThenInclude(j => j.Attempts.Where(a => !FinishedStatuses.Contains(a.Status)))
            .AsSplitQuery().FirstAsync(r => r.Id == runId, ct);

    private static readonly Status[] FinishedStatuses =
        [Status.Succeeded, Status.Failed, Status.Cancelled, Status.Skipped, Status.TimedOut, Status.Lost];

    /// <summary>Admits jobs whose needs all succeeded, skips those whose needs cannot succeed, and finishes
    /// the run once every job has. Returns how many attempts were queued.</summary>
    public static int Advance(BuildDb db, Run run, DateTimeOffset now, string actor)
    {
        var byKey = run.Jobs.ToDictionary(j => j.Key);
        var queued = 0;
        bool changed;
        do
        {
            changed = false;
            foreach (var job in run.Jobs.Where(j => j.Status == Status.Pending))
            {
                var needs = job.Needs.Select(k => byKey[k]).ToList();
                if (needs.Any(n => n.Status.IsFinished() && n.Status != Status.Succeeded))
                {
                    var blocker = needs.First(n => n.Status.IsFinished() && n.Status != Status.Succeeded);
                    Finish(job, run.CancelRequestedAt is null ? Status.Skipped : Status.Cancelled, now,
                        $"needs '{blocker.Key}', which {blocker.Status.ToWire()}");
                    changed = true;
                }
                else if (needs.All(n => n.Status == Status.Succeeded))
                {
                    if (run.CancelRequestedAt is not null)
                    {
                        Finish(job, Status.Cancelled, now, "the run was cancelled");
                    }
                    else
                    {
                        AttemptFactory.Queue(db, job, 1, now, "needs succeeded: " + string.Join(", ", job.Needs), actor);
                        queued++;
                    }
                    changed = true;
                }
            }
        } while (changed);

        if (run.Jobs.All(j => j.Status.IsFinished()) && !run.Status.IsFinished())
        {
            run.Status = Aggregate(run.Jobs);
            run.FinishedAt = now;
        }
        else if (run.Jobs.Any(j => j.Status == Status.Running) && run.Status is Status.Queued or Status.Pending)
        {
            run.Status = Status.Running;
            run.StartedAt ??= now;
        }
        return queued;
    }

    public static void Finish(Job job, Status status, DateTimeOffset now, string? reason)
    {
        job.Status = status;
        job.StatusReason = reason;
        job.FinishedAt ??= now;
    }

    /// <summary>A run failed if any job failed or timed out, was cancelled if any job was, else succeeded.</summary>
    private static Status Aggregate(IEnumerable<Job> jobs)
    {
        var statuses = jobs.Select(j => j.Status).ToHashSet();
        if (statuses.Contains(Status.Failed) || statuses.Contains(Status.TimedOut) || statuses.Contains(Status.Lost)) return Status.Failed;
        if (statuses.Contains(Status.Cancelled)) return Status.Cancelled;
        return statuses.Contains(Status.Succeeded) ? Status.Succeeded : Status.Skipped;
    }
}
