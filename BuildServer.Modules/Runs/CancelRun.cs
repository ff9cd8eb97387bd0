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

/// <summary>Cancels a run: pending and queued jobs at once, running attempts by signalling their agent
/// (graceful signal, then kill). Idempotent.</summary>
internal sealed class CancelRun(BuildDb db, AttemptLifecycle lifecycle, IAttemptCancellation cancellation, TimeProvider time)
{
    public async Task<CancelOutcome> CancelAsync(long runId, string actor, CancellationToken ct)
    {
        if (!await db.Set<Run>().AnyAsync(r => r.Id == runId, ct))
        {
            return CancelOutcome.NotFound;
        }
        var outcome = CancelOutcome.Cancelling;
        var running = new List<long>();
        await lifecycle.InRunTransactionAsync(runId, async run =>
        {
            if (run.Status.IsFinished())
            {
                outcome = CancelOutcome.AlreadyFinished;
                return false;
            }
            var now = time.GetUtcNow();
            run.CancelRequestedAt ??= now;
            foreach (var job in run.Jobs.Where(j => !j.Status.IsFinished()))
            {
                var attempt = job.Attempts.FirstOrDefault(a => !a.Status.IsFinished());
                if (attempt is null)
                {
                    RunProgress.Finish(job, Status.Cancelled, now, "the run was cancelled by " + actor);
                }
                else if (attempt.Status == Status.Queued && await TryCancelQueuedAsync(attempt.Id, ct))
                {
                    attempt.Status = Status.Cancelled;
                    attempt.FinishedAt = now;
                    attempt.FailureReason = "cancelled by " + actor;
                    AttemptFactory.Event(db, attempt, now, "cancelled", Status.Queued, Status.Cancelled, "cancelled by " + actor, actor);
                    RunProgress.Finish(job, Status.Cancelled, now, "the run was cancelled by " + actor);
                    db.Entry(attempt).State = EntityState.Unchanged; // written by the conditional update above
                    db.Entry(attempt).Property(a => a.FinishedAt).IsModified = true;
                    db.Entry(attempt).Property(a => a.FailureReason).IsModified = true;
                }
                else
                {
                    running.Add(attempt.Id); // claimed by an agent: it stops the step and reports "cancelled"
                }
            }
            RunProgress.Advance(db, run, now, actor);
            return true;
        }, ct);
        foreach (var attemptId in running)
        {
            cancellation.Cancel(attemptId);
        }
        return outcome;
    }

    /// <summary>Cancels a queued attempt only if no agent has claimed it in the meantime.</summary>
    private async Task<bool> TryCancelQueuedAsync(long attemptId, CancellationToken ct) =>
        await db.Set<JobAttempt>().Where(a => a.Id == attemptId && a.Status == Status.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, Status.Cancelled), ct) == 1;
}
