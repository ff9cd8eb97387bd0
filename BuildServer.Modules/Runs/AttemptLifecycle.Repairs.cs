using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Runs;

/// <summary>The lifecycle's timed and repair transitions: retries after their backoff, queued jobs failed for want
/// of an agent, runs moved on, concurrency groups released (used by Hangfire's jobs and the reconciler).</summary>
internal sealed partial class AttemptLifecycle
{
    private readonly List<(JobAttempt Attempt, Lane Lane)> _backoffs = [];

    private RetryPolicy RetryPolicyOf(Job job) =>
        (job.SpecJson is { } spec ? AttemptFactory.Spec(spec).Retry : null) ?? options.Value.Retry.ToPolicy();

    private int MaxAttempts(Job job, Status outcome) =>
        outcome == Status.Lost ? Math.Max(RetryPolicyOf(job).MaxAttempts, options.Value.MaxAttemptsOnLoss) : RetryPolicyOf(job).MaxAttempts;

    /// <summary>After a commit: Hangfire admits each retry whose backoff began in it when the backoff is over, in the
    /// job's lane's queue (the reconciler admits any it missed, e.g. after a restart).</summary>
    private void ScheduleBackoffs()
    {
        foreach (var (attempt, lane) in _backoffs)
        {
            try
            {
                background.Schedule<RetryAdmission>(BackgroundQueues.Of(lane), r => r.AdmitAsync(attempt.Id, CancellationToken.None), attempt.NotBefore!.Value);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Could not schedule the retry {AttemptId}; the reconciler will admit it", attempt.Id);
            }
        }
        _backoffs.Clear();
    }

    /// <summary>Queues a retry whose backoff is over (idempotent: anything but a pending attempt past its
    /// <c>NotBefore</c> is left alone); in a run being cancelled it is cancelled instead.</summary>
    public async Task<bool> AdmitRetryAsync(long attemptId, string actor, CancellationToken ct)
    {
        var runId = await db.Set<JobAttempt>().Where(a => a.Id == attemptId && a.Status == Status.Pending).Select(a => (long?)a.RunId).FirstOrDefaultAsync(ct);
        if (runId is null) return false;
        var stop = new List<long>();
        var queued = false;
        var applied = await InRunTransactionAsync(runId.Value, async run =>
        {
            var now = time.GetUtcNow();
            var attempt = run.Jobs.SelectMany(j => j.Attempts).FirstOrDefault(a => a.Id == attemptId);
            if (attempt is not { Status: Status.Pending } || attempt.NotBefore > now) return false;
            var job = attempt.Job!;
            if (run.CancelRequestedAt is not null || attempt.CancelRequestedAt is not null)
            {
                stop.AddRange(await RunProgress.CancelJobsAsync(db, [job], now, actor, "the run was cancelled", ct));
            }
            else
            {
                attempt.Status = Status.Queued;
                attempt.QueuedAt = now;
                job.Status = Status.Queued;
                job.StatusReason = null;
                AttemptFactory.Event(db, attempt, now, "queued", Status.Pending, Status.Queued, "retry backoff over", actor);
                queued = true;
            }
            stop.AddRange((await RunProgress.AdvanceAsync(db, run, now, actor, ct)).StopRunning);
            return true;
        }, ct);
        if (queued) dispatch.Notify();
        foreach (var id in stop) cancellation.Cancel(id);
        return applied;
    }

    /// <summary>Fails a queued attempt that no agent took (never claimed: the conditional update makes sure), with its
    /// job; not retried (no agent could run a retry either).</summary>
    internal async Task<bool> FailQueuedAsync(long attemptId, string reason, string actor, CancellationToken ct)
    {
        var runId = await db.Set<JobAttempt>().Where(a => a.Id == attemptId && a.Status == Status.Queued).Select(a => (long?)a.RunId).FirstOrDefaultAsync(ct);
        if (runId is null) return false;
        Progress? progress = null;
        var applied = await InRunTransactionAsync(runId.Value, async run =>
        {
            var attempt = run.Jobs.SelectMany(j => j.Attempts).FirstOrDefault(a => a.Id == attemptId);
            if (attempt is not { Status: Status.Queued }) return false;
            var now = time.GetUtcNow();
            var updated = await db.Set<JobAttempt>().Where(a => a.Id == attemptId && a.Status == Status.Queued)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, Status.Failed).SetProperty(a => a.FinishedAt, now).SetProperty(a => a.FailureReason, reason), ct);
            if (updated == 0) return false; // claimed meanwhile
            var entry = db.Entry(attempt);
            attempt.Status = Status.Failed;
            attempt.FinishedAt = now;
            attempt.FailureReason = reason;
            entry.OriginalValues.SetValues(entry.CurrentValues);
            AttemptFactory.Event(db, attempt, now, "failed", Status.Queued, Status.Failed, reason, actor);
            await db.Set<Step>().Where(x => x.AttemptId == attemptId && x.Status == Status.Pending)
                .ExecuteUpdateAsync(x => x.SetProperty(y => y.Status, Status.Skipped).SetProperty(y => y.FinishedAt, now), ct);
            RunProgress.Finish(attempt.Job!, Status.Failed, now, reason);
            progress = await RunProgress.AdvanceAsync(db, run, now, actor, ct);
            return true;
        }, ct);
        if (applied && progress is { } p) AfterCommit(p);
        return applied;
    }

    /// <summary>Moves a run on as completing its last attempt would have (admits jobs whose needs finished, finishes
    /// the run when all its jobs have); true when that changed anything.</summary>
    internal async Task<bool> MoveOnAsync(long runId, string actor, CancellationToken ct)
    {
        Progress? progress = null;
        var applied = await InRunTransactionAsync(runId, async run =>
        {
            if (run.Status.IsFinished()) return false;
            progress = await RunProgress.AdvanceAsync(db, run, time.GetUtcNow(), actor, ct);
            return db.ChangeTracker.HasChanges();
        }, ct);
        if (applied && progress is { } p) AfterCommit(p);
        return applied;
    }

    /// <summary>Starts the next held run of a concurrency group once no run of it is in progress (idempotent).</summary>
    internal async Task<bool> ReleaseGroupAsync(long projectId, string group, string actor, CancellationToken ct)
    {
        var held = (await ConcurrencyGroups.UnfinishedAsync(db, projectId, group, 0, ct)).FirstOrDefault();
        if (held is not { Held: true })
        {
            return false; // still held by a run in progress, or nothing waits
        }
        Progress? progress = null;
        var released = await InRunTransactionAsync(held.Id, async run =>
        {
            await ConcurrencyGroups.LockAsync(db, projectId, group, ct);
            var others = await ConcurrencyGroups.UnfinishedAsync(db, projectId, group, run.Id, ct);
            if (!ConcurrencyGroups.IsHeld(run) || others.Any(o => !o.Held)) return false;
            var now = time.GetUtcNow();
            run.Status = Status.Queued;
            foreach (var job in run.Jobs.Where(j => j.Status == Status.Pending && j.Needs.Count == 0)) job.StatusReason = null;
            progress = await RunProgress.AdvanceAsync(db, run, now, actor, ct);
            return true;
        }, ct);
        if (released && progress is { Queued: > 0 }) dispatch.Notify();
        if (released) logger.LogInformation("Concurrency group '{Group}' released run {RunId}", group, held.Id);
        return released;
    }
}
