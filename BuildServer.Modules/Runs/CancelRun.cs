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
            running.AddRange(await RunProgress.CancelJobsAsync(db, run.Jobs, now, actor, "the run was cancelled by " + actor, ct));
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
