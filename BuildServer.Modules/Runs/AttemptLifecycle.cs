using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runs;

internal sealed partial class AttemptLifecycle(
    BuildDb db,
    WriteGate writes,
    IProjectDirectory projects,
    IDispatchSignal dispatch,
    ReadyAttempts ready,
    SchedulerMetrics metrics,
    OrgQuotaCheck quota,
    IAttemptCancellation cancellation,
    IBackgroundJobClient background,
    RunUpdates updates,
    TimeProvider time,
    IOptions<RunsOptions> options,
    ILogger<AttemptLifecycle> logger) : IAttemptLifecycle
{
    public async Task<ClaimedAttempt?> TryClaimAsync(RunnerRef runner, CancellationToken ct)
    {
        // The scheduler decides (lane, quota, fair share, labels); the conditional update makes it exactly-once.
        while (ready.Reserve(runner.Labels, runner.OrgId) is { } item)
        {
            bool claimed;
            try
            {
                claimed = await TryClaimOneAsync(runner, item, ct);
            }
            catch
            {
                ready.Release(item);
                throw;
            }
            if (claimed)
            {
                ready.Claimed(item);
                metrics.PickedUp(item);
                return await LoadClaimAsync(item.AttemptId, ct);
            }
            ready.Release(item); // cancelled meanwhile, or claimed by another server: try the next one
        }
        return null;
    }

    /// <summary>The atomic conditional update that makes a claim exactly-once; the attempt, its job and its run
    /// are marked started in the same transaction, with the "assigned" and "started" events.</summary>
    private async Task<bool> TryClaimOneAsync(RunnerRef runner, ReadyItem candidate, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var actor = "runner:" + runner.Id;
        DateTimeOffset? timeoutAt = candidate.Timeout is { } timeout ? now + timeout : null;
        await using var gate = await writes.EnterAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (!await quota.AdmitAsync(candidate, ct))
        {
            return false; // at quota across all nodes (PostgreSQL): the candidate waits in the view again
        }
        if (db.Database.IsNpgsql())
        {
            // The run's row first, as every other transaction that changes its attempts takes it (a cancel holds
            // it and then updates queued attempts): one lock order, so a claim and a cancel cannot deadlock.
            // SQLite's write gate already serialises them.
            await RunProgress.LockRunAsync(db, candidate.RunId, ct);
        }
        var claimed = await db.Set<JobAttempt>()
            .Where(a => a.Id == candidate.AttemptId && a.Status == Status.Queued)
            .ExecuteUpdateAsync(s => s
                .SetProperty(a => a.Status, Status.Running)
                .SetProperty(a => a.RunnerId, runner.Id)
                .SetProperty(a => a.AssignedAt, now)
                .SetProperty(a => a.StartedAt, now)
                .SetProperty(a => a.LeaseExpiresAt, now + options.Value.Lease)
                .SetProperty(a => a.TimeoutAt, timeoutAt), ct);
        if (claimed == 0)
        {
            return false;
        }
        AttemptFactory.Event(db, candidate.AttemptId, now, "assigned", Status.Queued, Status.Running, $"claimed by runner '{runner.Name}'", actor);
        await MarkStartedAsync(candidate.JobId, candidate.RunId, now, ct);
        AttemptFactory.Event(db, candidate.AttemptId, now, "started", Status.Running, Status.Running, null, actor);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        updates.Changed(candidate.RunId);
        return true;
    }

    /// <summary>The job runs from now, and so does its run if it had not started yet.</summary>
    private async Task MarkStartedAsync(long jobId, long runId, DateTimeOffset now, CancellationToken ct)
    {
        await db.Set<Job>().Where(j => j.Id == jobId)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Status.Running)
                .SetProperty(j => j.StartedAt, j => j.StartedAt ?? now), ct);
        await db.Set<Run>().Where(r => r.Id == runId && (r.Status == Status.Queued || r.Status == Status.Pending))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, Status.Running)
                .SetProperty(r => r.StartedAt, r => r.StartedAt ?? now), ct);
    }

    public Task<bool> IsCancelRequestedAsync(long attemptId, CancellationToken ct) =>
        db.Set<JobAttempt>().AnyAsync(a => a.Id == attemptId && (a.CancelRequestedAt != null || a.Run!.CancelRequestedAt != null), ct);

    private async Task<ClaimedAttempt> LoadClaimAsync(long attemptId, CancellationToken ct)
    {
        var a = await db.Set<JobAttempt>().AsNoTracking()
            .Where(x => x.Id == attemptId)
            .Select(x => new
            {
                x.Id, x.Number, x.JobId, x.Job!.Key, x.Job.SpecJson, x.Job.NeedsJson, x.RunId, RunNumber = x.Run!.Number, x.Run.ProjectId,
                x.Run.Ref, x.Run.Sha, x.Run.ContextJson, x.LeaseExpiresAt, x.TimeoutAt,
                StepIds = x.Steps.OrderBy(s => s.Index).Select(s => s.Id).ToList(),
            })
            .FirstAsync(ct);
        var project = (await projects.FindAsync(a.ProjectId.ToString(CultureInfo.InvariantCulture), ct))?.Name ?? "";
        var run = JsonSerializer.Deserialize<RunContext>(a.ContextJson, JsonDefaults.Options)!;
        var github = (JsonObject)run.Github.DeepClone();
        github["run_attempt"] = a.Number.ToString(CultureInfo.InvariantCulture);
        github["job"] = a.Key;
        var needs = a.NeedsJson is null ? [] : JsonNode.Parse(a.NeedsJson) as JsonObject ?? [];
        // Secrets reach agents with the attempt (never stored with the spec): none exist until the secrets store lands.
        var context = new JobContext(github, run.Inputs, run.Vars, needs, new Dictionary<string, string>());
        return new ClaimedAttempt(a.Id, a.Number, a.JobId, a.Key, a.RunId, a.RunNumber, project, a.Ref, a.Sha,
            AttemptFactory.Spec(a.SpecJson!), context, a.StepIds)
        {
            LeaseExpiresAt = a.LeaseExpiresAt ?? time.GetUtcNow() + options.Value.Lease,
            TimeoutAt = a.TimeoutAt,
        };
    }

    public async Task StartStepAsync(long stepId, long logStart, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var gate = await writes.EnterAsync(ct);
        await db.Set<Step>().Where(s => s.Id == stepId && s.Status == Status.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, Status.Running)
                .SetProperty(x => x.StartedAt, now).SetProperty(x => x.LogStart, logStart), ct);
    }

    public async Task FinishStepAsync(long stepId, AttemptOutcome outcome, long logEnd, CancellationToken ct)
    {
        await using var gate = await writes.EnterAsync(ct);
        await FinishStepCoreAsync(stepId, outcome, logEnd, time.GetUtcNow(), ct);
    }

    private async Task FinishStepCoreAsync(long stepId, AttemptOutcome outcome, long logEnd, DateTimeOffset now, CancellationToken ct)
    {
        // A step that never started (skipped, cancelled before its turn) gets its log position too, so its log reads empty.
        await db.Set<Step>().Where(s => s.Id == stepId && (s.Status == Status.Pending || s.Status == Status.Running))
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, outcome.Status)
                .SetProperty(x => x.FinishedAt, now).SetProperty(x => x.ExitCode, outcome.ExitCode)
                .SetProperty(x => x.LogStart, x => x.Status == Status.Pending ? logEnd : x.LogStart)
                .SetProperty(x => x.LogEnd, logEnd), ct);
    }

    public Task<bool> CompleteAttemptAsync(long attemptId, AttemptOutcome outcome, StepReport? lastStep, CancellationToken ct) =>
        CompleteAttemptAsync(attemptId, outcome, lastStep, actor: null, ct);

    /// <param name="actor">Who finishes it: null for the runner that ran it (agents), else e.g. the reconciler.</param>
    internal async Task<bool> CompleteAttemptAsync(long attemptId, AttemptOutcome outcome, StepReport? lastStep, string? actor, CancellationToken ct)
    {
        var runId = await db.Set<JobAttempt>().Where(a => a.Id == attemptId).Select(a => (long?)a.RunId).FirstOrDefaultAsync(ct);
        if (runId is null)
        {
            return false;
        }
        Progress? progress = null;
        var applied = await InRunTransactionAsync(runId.Value, async run =>
        {
            var attempt = run.Jobs.SelectMany(j => j.Attempts).FirstOrDefault(a => a.Id == attemptId);
            if (attempt is null || attempt.Status.IsFinished())
            {
                return false; // finished already, or superseded: a late report changes nothing
            }
            var now = time.GetUtcNow();
            await FinishStepsAsync(attemptId, outcome, lastStep, now, ct);
            Finish(attempt, outcome, now, actor ?? "runner:" + attempt.RunnerId);
            if (outcome.Outputs is { Count: > 0 } outputs)
            {
                attempt.Job!.OutputsJson = JsonSerializer.Serialize(outputs);
            }
            progress = await RunProgress.AdvanceAsync(db, run, now, "server", ct);
            return true;
        }, ct);
        if (applied && progress is { } p) AfterCommit(p, alsoWhenWaiting: true); // new work, or quota freed for waiting work
        return applied;
    }

    /// <summary>Once a run's change has committed: wake idle agents for what it queued (or, with
    /// <paramref name="alsoWhenWaiting"/>, whenever work waits: a finish may have freed quota), and tell the agents
    /// of the attempts it stopped.</summary>
    private void AfterCommit(Progress progress, bool alsoWhenWaiting = false)
    {
        if (progress.Queued > 0 || (alsoWhenWaiting && ready.Count > 0)) dispatch.Notify();
        foreach (var id in progress.StopRunning) cancellation.Cancel(id);
    }

    /// <summary>Writes the last step's report; steps that never ran are skipped (cancelled with the attempt),
    /// a step still marked running was interrupted and is cancelled.</summary>
    private async Task FinishStepsAsync(long attemptId, AttemptOutcome outcome, StepReport? lastStep, DateTimeOffset now, CancellationToken ct)
    {
        if (lastStep is not null)
        {
            await FinishStepCoreAsync(lastStep.StepId, lastStep.Outcome, lastStep.LogEnd, now, ct);
        }
        var logEnd = lastStep?.LogEnd;
        var never = outcome.Status == Status.Cancelled ? Status.Cancelled : Status.Skipped;
        await db.Set<Step>().Where(s => s.AttemptId == attemptId && (s.Status == Status.Pending || s.Status == Status.Running))
            .ExecuteUpdateAsync(s => s
                .SetProperty(x => x.Status, x => x.Status == Status.Running ? Status.Cancelled : never)
                .SetProperty(x => x.FinishedAt, now)
                .SetProperty(x => x.LogStart, x => x.Status == Status.Pending && logEnd != null ? logEnd.Value : x.LogStart)
                .SetProperty(x => x.LogEnd, x => logEnd ?? x.LogEnd), ct);
    }

    /// <summary>Finishes an attempt and derives its job: an attempt that may be retried (<see cref="Retries"/>) gets
    /// a successor, queued at once or pending until its backoff is over; what is retried, and why, is written as
    /// events of both attempts.</summary>
    private void Finish(JobAttempt attempt, AttemptOutcome outcome, DateTimeOffset now, string actor)
    {
        var from = attempt.Status;
        attempt.Status = outcome.Status;
        attempt.ExitCode = outcome.ExitCode;
        attempt.FailureReason = outcome.Reason;
        attempt.FinishedAt = now;
        attempt.LeaseExpiresAt = null;
        AttemptFactory.Event(db, attempt, now, outcome.Status.ToWire(), from, outcome.Status, outcome.Reason, actor);
        metrics.AttemptFinished(outcome.Status.ToWire());
        var job = attempt.Job!;
        var retry = outcome.Status is Status.Lost or Status.Failed or Status.TimedOut
            ? Retries.Decide(RetryPolicyOf(job), options.Value.MaxAttemptsOnLoss, attempt.Number, outcome.Status,
                attempt.Run!.CancelRequestedAt is not null || attempt.CancelRequestedAt is not null, Random.Shared)
            : null;
        if (retry is not null)
        {
            var what = $"{outcome.Status.ToWire()}{(outcome.Reason is { } r ? ": " + r : "")}";
            var notBefore = now + retry.Delay;
            var next = AttemptFactory.Queue(db, job, attempt.Number + 1, now, $"retry of attempt {attempt.Number} ({what})", "server", notBefore);
            var when = retry.Delay > TimeSpan.Zero ? $" after a backoff of {retry.Delay.TotalSeconds:0.#}s (at {AttemptFactory.Time(notBefore)})" : "";
            AttemptFactory.Event(db, attempt, now, "retried", outcome.Status, outcome.Status, $"attempt {next.Number} of {MaxAttempts(job, outcome.Status)}{when}", "server");
            if (next.Status == Status.Pending) _backoffs.Add((next, job.Lane));
            return;
        }
        RunProgress.Finish(job, outcome.Status == Status.Lost ? Status.Failed : outcome.Status, now, outcome.Reason);
    }

    public async Task<int> RenewLeasesAsync(long runnerId, CancellationToken ct)
    {
        var until = time.GetUtcNow() + options.Value.Lease;
        await using var gate = await writes.EnterAsync(ct);
        return await db.Set<JobAttempt>().Where(a => a.RunnerId == runnerId && a.Status == Status.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, until), ct);
    }

    public async Task<int> RenewLeasesAsync(long runnerId, IReadOnlyCollection<long> attemptIds, CancellationToken ct)
    {
        if (attemptIds.Count == 0) return 0;
        var until = time.GetUtcNow() + options.Value.Lease;
        await using var gate = await writes.EnterAsync(ct);
        return await db.Set<JobAttempt>().Where(a => a.RunnerId == runnerId && a.Status == Status.Running && attemptIds.Contains(a.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, until), ct);
    }

    public async Task<int> RecoverRunnerAsync(long runnerId, string reason, CancellationToken ct)
    {
        var stranded = await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => a.RunnerId == runnerId && a.Status == Status.Running)
            .Select(a => a.Id).ToListAsync(ct);
        foreach (var id in stranded)
        {
            logger.LogWarning("Attempt {AttemptId} was running on runner {RunnerId}: {Reason}", id, runnerId, reason);
            await CompleteAttemptAsync(id, new AttemptOutcome(Status.Lost, null, reason), null, ct);
        }
        return stranded.Count;
    }

    /// <summary>Runs <paramref name="change"/> on the run, loaded under its row lock, and commits if it returns true.</summary>
    internal async Task<bool> InRunTransactionAsync(long runId, Func<Run, Task<bool>> change, CancellationToken ct)
    {
        var (applied, finishedGroup) = await InRunTransactionCoreAsync(runId, change, ct);
        if (finishedGroup is { } g)
        {
            await ReleaseGroupAsync(g.ProjectId, g.Group, "server", ct);
        }
        return applied;
    }

    /// <returns>Whether the change was committed, and the concurrency group of the run if the change finished it.</returns>
    private async Task<(bool Applied, (long ProjectId, string Group)? FinishedGroup)> InRunTransactionCoreAsync(long runId, Func<Run, Task<bool>> change, CancellationToken ct)
    {
        await using var gate = await writes.EnterAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await RunProgress.LockRunAsync(db, runId, ct);
        var run = await RunProgress.LoadAsync(db, runId, ct);
        var wasFinished = run.Status.IsFinished();
        _backoffs.Clear();
        if (!await change(run))
        {
            return (false, null);
        }
        await db.SaveChangesAsync(ct);
        await RunChangeNotice.SendAsync(db, runId, ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        SchedulerFeed.Publish(ready, run);
        ScheduleBackoffs();
        updates.Changed(runId);
        return (true, !wasFinished && run.Status.IsFinished() && run.ConcurrencyGroup is { } group ? (run.ProjectId, group) : null);
    }
}
