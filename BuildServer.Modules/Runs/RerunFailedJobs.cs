using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

public enum RerunOutcome
{
    NotFound,
    /// <summary>The run has not finished: nothing to re-run yet (also the answer to the second of two clicks).</summary>
    NotFinished,
    /// <summary>The run finished without a failed, timed-out or cancelled job.</summary>
    NothingFailed,
    Rerun,
}

/// <summary>
/// Re-runs the failed jobs of a finished run, in the same run: each job that ended <c>failed</c>, <c>timed_out</c>
/// or <c>cancelled</c> after running gets a new attempt (its number + 1; the earlier ones stay as they were), and the
/// jobs that never ran because of them (skipped, or cancelled or failed before an attempt, downstream of them or
/// matrix siblings) go back to <c>pending</c>, for the run's usual progress to admit them when their needs finish.
/// Matrix jobs re-run only their failed legs. The run is in progress again (its finish time cleared).
/// </summary>
/// <remarks>One transaction under the run's row lock, like every change of a run: two calls at once (a double click,
/// two nodes) are serialised, and the second finds the run in progress (<see cref="RerunOutcome.NotFinished"/>), so no
/// job gets two new attempts. A run of a concurrency group stays held while another run of the group is in progress.</remarks>
internal sealed class RerunFailedJobs(BuildDb db, AttemptLifecycle lifecycle, IDispatchSignal dispatch, TimeProvider time)
{
    private sealed record LastAttempt(long Id, int Number, Status Status);

    public async Task<RerunOutcome> RerunAsync(long runId, string user, CancellationToken ct)
    {
        if (!await db.Set<Run>().AnyAsync(r => r.Id == runId, ct)) return RerunOutcome.NotFound;
        var outcome = RerunOutcome.Rerun;
        var queued = 0;
        await lifecycle.InRunTransactionAsync(runId, async run =>
        {
            if (!run.Status.IsFinished())
            {
                outcome = RerunOutcome.NotFinished;
                return false;
            }
            var last = await LastAttemptsAsync(runId, ct);
            var failed = run.Jobs.Where(j => IsRerunnable(j.Status) && last.ContainsKey(j.Id)).OrderBy(j => j.Id).ToList();
            if (failed.Count == 0)
            {
                outcome = RerunOutcome.NothingFailed;
                return false;
            }
            var now = time.GetUtcNow();
            var actor = "user:" + user;
            var held = await HeldReasonAsync(run, ct);
            var reset = NeverRan(run, failed, last);
            run.Status = held is null ? Status.Queued : Status.Pending;
            run.FinishedAt = null;
            run.CancelRequestedAt = null; // a cancelled run runs again: its new attempts must not be stopped at once
            foreach (var job in failed.Concat(reset))
            {
                job.Status = Status.Pending;
                job.StartedAt = null;
                job.FinishedAt = null;
            }
            foreach (var job in reset)
            {
                job.StatusReason = job.Needs.Count > 0 ? "waiting for needs: " + string.Join(", ", job.Needs) : held;
            }
            foreach (var job in failed)
            {
                var previous = last[job.Id];
                job.OutputsJson = null; // the new attempt's outputs, if it has any
                var waiting = Waiting(run, job) ?? held;
                if (waiting is null)
                {
                    AttemptFactory.Queue(db, job, previous.Number + 1, now, "re-run by " + user, actor);
                    queued++;
                }
                job.StatusReason = waiting;
                AttemptFactory.Event(db, previous.Id, now, "rerun", previous.Status, previous.Status,
                    $"re-run by {user} as attempt {previous.Number + 1}{(waiting is null ? "" : $" ({waiting})")}", actor);
            }
            queued += (await RunProgress.AdvanceAsync(db, run, now, actor, ct)).Queued;
            return true;
        }, ct);
        if (queued > 0) dispatch.Notify();
        return outcome;
    }

    /// <summary>Whether a job that ended so (after running) is re-run by "re-run failed jobs".</summary>
    public static bool IsRerunnable(Status status) => status is Status.Failed or Status.TimedOut or Status.Cancelled;

    /// <summary>Why a re-run job cannot be queued at once (a job it needs runs again, its matrix is at max-parallel), or null.</summary>
    private static string? Waiting(Run run, Job job) =>
        !RunProgress.NeedsFinished(run, job) ? "waiting for needs: " + string.Join(", ", job.Needs)
        : !RunProgress.HasMatrixSlot(run, job) ? $"waiting for a free matrix slot (max-parallel {job.MaxParallel})"
        : null;

    /// <summary>Each job's latest attempt (only the unfinished ones are loaded with the run).</summary>
    private async Task<Dictionary<long, LastAttempt>> LastAttemptsAsync(long runId, CancellationToken ct)
    {
        var attempts = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.RunId == runId)
            .Select(a => new { a.JobId, a.Id, a.Number, a.Status }).ToListAsync(ct);
        return attempts.GroupBy(a => a.JobId).ToDictionary(g => g.Key, g =>
        {
            var latest = g.MaxBy(a => a.Number)!;
            return new LastAttempt(latest.Id, latest.Number, latest.Status);
        });
    }

    /// <summary>The jobs that never ran (no attempt) and ended skipped, cancelled or failed, of the workflow jobs re-run
    /// (matrix legs waiting for a slot when fail-fast cancelled them) or needing one of them, directly or through others.</summary>
    private static List<Job> NeverRan(Run run, IReadOnlyList<Job> failed, Dictionary<long, LastAttempt> last)
    {
        var keys = failed.Select(j => j.Key).ToHashSet();
        bool grew;
        do
        {
            grew = false;
            foreach (var job in run.Jobs.Where(j => !keys.Contains(j.Key) && j.Needs.Any(keys.Contains)))
            {
                grew |= keys.Add(job.Key);
            }
        } while (grew);
        return run.Jobs.Where(j => keys.Contains(j.Key) && !last.ContainsKey(j.Id) && j.Status is Status.Skipped or Status.Cancelled or Status.Failed).ToList();
    }

    /// <summary>Why the run must wait: another run of its concurrency group is in progress (checked under the group's lock).</summary>
    private async Task<string?> HeldReasonAsync(Run run, CancellationToken ct)
    {
        if (run.ConcurrencyGroup is not { } group) return null;
        await ConcurrencyGroups.LockAsync(db, run.ProjectId, group, ct);
        var holder = (await ConcurrencyGroups.UnfinishedAsync(db, run.ProjectId, group, run.Id, ct)).FirstOrDefault(o => !o.Held);
        return holder is null ? null : ConcurrencyGroups.HeldReason(group, holder.Number);
    }
}
