using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

public enum CancelOutcome
{
    NotFound,
    /// <summary>Cancellation requested (or already requested): waiting and queued work is cancelled, running steps are being stopped.</summary>
    Cancelling,
    /// <summary>The run had already finished; nothing changed.</summary>
    AlreadyFinished,
}

/// <summary>Cancels a run, a job or an attempt: pending and queued work at once, running attempts by signalling
/// their agent (graceful signal, then kill; <c>always()</c> steps still run). Idempotent: cancelling what is being
/// cancelled again changes nothing; what has finished is left alone (<see cref="CancelOutcome.AlreadyFinished"/>).</summary>
internal sealed class CancelRun(BuildDb db, AttemptLifecycle lifecycle, IAttemptCancellation cancellation, TimeProvider time)
{
    /// <param name="reason">Why, for the jobs' and attempts' records; by default "the run was cancelled by ACTOR".</param>
    public async Task<CancelOutcome> CancelAsync(long runId, string actor, CancellationToken ct, string? reason = null)
    {
        if (!await db.Set<Run>().AnyAsync(r => r.Id == runId, ct))
        {
            return CancelOutcome.NotFound;
        }
        return await CancelInRunAsync(runId, run => run.Status.IsFinished() ? null : run.Jobs, actor, reason ?? "the run was cancelled by " + actor,
            (run, now) => run.CancelRequestedAt ??= now, ct);
    }

    /// <summary>Cancels one job (its current attempt); its dependents are then skipped as for any job that did not succeed.</summary>
    public async Task<CancelOutcome> CancelJobAsync(long jobId, string actor, CancellationToken ct)
    {
        var runId = await db.Set<Job>().Where(j => j.Id == jobId).Select(j => (long?)j.RunId).FirstOrDefaultAsync(ct);
        return runId is null ? CancelOutcome.NotFound : await CancelJobInRunAsync(runId.Value, jobId, actor, "the job was cancelled by " + actor, ct);
    }

    /// <summary>Cancels an attempt if it is its job's current one (then the job is cancelled: a cancelled attempt is not retried).</summary>
    public async Task<CancelOutcome> CancelAttemptAsync(long attemptId, string actor, CancellationToken ct)
    {
        var attempt = await db.Set<JobAttempt>().Where(a => a.Id == attemptId).Select(a => new { a.RunId, a.JobId, a.Status }).FirstOrDefaultAsync(ct);
        if (attempt is null) return CancelOutcome.NotFound;
        if (attempt.Status.IsFinished()) return CancelOutcome.AlreadyFinished;
        return await CancelJobInRunAsync(attempt.RunId, attempt.JobId, actor, "the attempt was cancelled by " + actor, ct);
    }

    private Task<CancelOutcome> CancelJobInRunAsync(long runId, long jobId, string actor, string reason, CancellationToken ct) =>
        CancelInRunAsync(runId, run => run.Jobs.First(j => j.Id == jobId) is { } job && !job.Status.IsFinished() ? [job] : null, actor, reason, null, ct);

    /// <summary>In the run's transaction: cancels the jobs <paramref name="select"/> picks (null: they have finished,
    /// nothing changes), moves the run on, then signals the running attempts to stop once committed.</summary>
    private async Task<CancelOutcome> CancelInRunAsync(long runId, Func<Run, IEnumerable<Job>?> select, string actor, string reason,
        Action<Run, DateTimeOffset>? mark, CancellationToken ct)
    {
        var outcome = CancelOutcome.Cancelling;
        var running = new List<long>();
        await lifecycle.InRunTransactionAsync(runId, async run =>
        {
            if (select(run) is not { } jobs)
            {
                outcome = CancelOutcome.AlreadyFinished;
                return false;
            }
            var now = time.GetUtcNow();
            mark?.Invoke(run, now);
            running.AddRange(await RunProgress.CancelJobsAsync(db, jobs.ToList(), now, actor, reason, ct));
            running.AddRange((await RunProgress.AdvanceAsync(db, run, now, actor, ct)).StopRunning);
            return true;
        }, ct);
        foreach (var attemptId in running)
        {
            cancellation.Cancel(attemptId);
        }
        return outcome;
    }
}
