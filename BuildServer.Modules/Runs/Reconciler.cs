using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runs;

/// <summary>What one pass of the reconciler repaired.</summary>
public sealed record ReconcileReport(int Lost, int TimedOut, int RetriesAdmitted, int RunsRepaired, int NoAgent, int GroupsReleased)
{
    public int Total => Lost + TimedOut + RetriesAdmitted + RunsRepaired + NoAgent + GroupsReleased;
}

/// <summary>
/// The recurring repair pass (a Hangfire recurring job, <see cref="RunsOptions.Reconcile"/>; idempotent, so two
/// nodes running it at once do no harm). It finds what no live component will move on by itself and moves it,
/// each repair written as an attempt event with its reason (actor <c>reconciler</c>) and logged:
/// <list type="bullet">
/// <item>running attempts whose lease expired (their agent died or lost the server) become <c>lost</c>, and are
/// retried per policy;</item>
/// <item>running attempts past their timeout plus <see cref="RunsOptions.TimeoutGrace"/> with no result become
/// <c>timed_out</c> (the agent is told to stop);</item>
/// <item>retries whose backoff is over but which are still pending (a restart lost the Hangfire timer) are queued;</item>
/// <item>runs not finished although nothing of theirs is waiting for an agent or running (all jobs finished, or
/// jobs whose needs finished but were never admitted) are moved on;</item>
/// <item>queued jobs no registered agent could run, waiting longer than <see cref="RunsOptions.LabelTimeout"/>,
/// fail with "no agent has labels [..]";</item>
/// <item>concurrency groups whose holder finished release their next run.</item>
/// </list>
/// </summary>
internal sealed class Reconciler(
    BuildDb db,
    AttemptLifecycle lifecycle,
    IAttemptCancellation cancellation,
    ReadyAttempts ready,
    IRunnerDirectory runners,
    LeaseGrace grace,
    TimeProvider time,
    IOptions<RunsOptions> options,
    ILogger<Reconciler> logger)
{
    internal const string Actor = "reconciler";

    [AutomaticRetry(Attempts = 0)] // it runs again at its next time anyway
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task<ReconcileReport> RunAsync(CancellationToken ct)
    {
        var lost = await ExpireLeasesAsync(ct);
        var timedOut = await EnforceTimeoutsAsync(ct);
        var admitted = await AdmitRetriesAsync(ct);
        var repaired = await RepairRunsAsync(ct);
        var released = await ReleaseGroupsAsync(ct);
        var noAgent = await FailUnrunnableAsync(ct);
        var report = new ReconcileReport(lost, timedOut, admitted, repaired, noAgent, released);
        if (report.Total > 0)
        {
            logger.LogWarning("Reconciler: {Lost} lease(s) expired, {TimedOut} timed out, {Admitted} retry(ies) admitted, {Repaired} run(s) moved on, {Released} concurrency group(s) released, {NoAgent} job(s) no agent could run",
                lost, timedOut, admitted, repaired, released, noAgent);
        }
        return report;
    }

    private async Task<int> ExpireLeasesAsync(CancellationToken ct)
    {
        if (grace.Held) return 0; // the server is starting: leases get their grace first, the next pass judges them
        var now = time.GetUtcNow();
        // Few rows (running attempts), and SQLite cannot compare DateTimeOffset in SQL: the times are compared here.
        var running = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.Status == Status.Running)
            .Select(a => new { a.Id, a.LeaseExpiresAt, a.RunnerId }).ToListAsync(ct);
        var count = 0;
        foreach (var a in running.Where(a => a.LeaseExpiresAt < now))
        {
            var reason = $"its lease expired at {AttemptFactory.Time(a.LeaseExpiresAt!.Value)}: no news from runner {a.RunnerId}";
            if (await lifecycle.CompleteAttemptAsync(a.Id, new AttemptOutcome(Status.Lost, null, reason), null, Actor, ct))
            {
                logger.LogWarning("Attempt {AttemptId} is lost: {Reason}", a.Id, reason);
                cancellation.Cancel(a.Id);
                count++;
            }
        }
        return count;
    }

    private async Task<int> EnforceTimeoutsAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var grace = options.Value.TimeoutGrace;
        var running = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.Status == Status.Running && a.TimeoutAt != null)
            .Select(a => new { a.Id, a.TimeoutAt, a.StartedAt, a.Job!.TimeoutMinutes }).ToListAsync(ct);
        var count = 0;
        foreach (var a in running.Where(a => a.TimeoutAt + grace < now))
        {
            var reason = $"the job timed out after {a.TimeoutMinutes:0.##} minutes, and its agent sent no result within {grace.TotalMinutes:0.##} more minutes";
            if (await lifecycle.CompleteAttemptAsync(a.Id, new AttemptOutcome(Status.TimedOut, null, reason), null, Actor, ct))
            {
                logger.LogWarning("Attempt {AttemptId} timed out: {Reason}", a.Id, reason);
                cancellation.Cancel(a.Id);
                count++;
            }
        }
        return count;
    }

    private async Task<int> AdmitRetriesAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var pending = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.Status == Status.Pending)
            .Select(a => new { a.Id, a.NotBefore }).ToListAsync(ct);
        var count = 0;
        foreach (var a in pending.Where(a => a.NotBefore is null || a.NotBefore <= now))
        {
            if (await lifecycle.AdmitRetryAsync(a.Id, Actor, ct)) count++;
        }
        return count;
    }

    /// <summary>Unfinished runs with nothing waiting for an agent or running, created a while ago: either every job
    /// finished (the run was not), or jobs whose needs finished were not admitted. Moving them on is what
    /// completing their last attempt should have done.</summary>
    private async Task<int> RepairRunsAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var active = new[] { Status.Pending, Status.Queued, Status.Running };
        var candidates = await db.Set<Run>().AsNoTracking()
            .Where(r => (r.Status == Status.Queued || r.Status == Status.Running || (r.Status == Status.Pending && r.ConcurrencyGroup == null))
                        && !db.Set<JobAttempt>().Any(a => a.RunId == r.Id && active.Contains(a.Status)))
            .Select(r => new { r.Id, r.CreatedAt }).ToListAsync(ct);
        var count = 0;
        foreach (var run in candidates.Where(r => r.CreatedAt < now - options.Value.StuckAfter))
        {
            if (await lifecycle.MoveOnAsync(run.Id, Actor, ct))
            {
                logger.LogWarning("Run {RunId} was stuck with nothing queued or running; the reconciler moved it on", run.Id);
                count++;
            }
        }
        return count;
    }

    /// <summary>Groups with a held run but no run in progress (the release after the holder finished was missed).</summary>
    private async Task<int> ReleaseGroupsAsync(CancellationToken ct)
    {
        var groups = await db.Set<Run>().AsNoTracking()
            .Where(r => r.Status == Status.Pending && r.ConcurrencyGroup != null)
            .Select(r => new { r.ProjectId, Group = r.ConcurrencyGroup! }).Distinct().ToListAsync(ct);
        var count = 0;
        foreach (var g in groups)
        {
            if (await lifecycle.ReleaseGroupAsync(g.ProjectId, g.Group, Actor, ct)) count++;
        }
        return count;
    }

    /// <summary>Queued jobs whose runs-on labels no registered agent (online or not) has all of, waiting longer than
    /// <see cref="RunsOptions.LabelTimeout"/>: they would wait forever, so they fail with the labels named.</summary>
    private async Task<int> FailUnrunnableAsync(CancellationToken ct)
    {
        var groups = ready.WaitingByLabels();
        if (groups.Count == 0) return 0;
        var registered = await runners.ListAsync(ct);
        var deadline = time.GetUtcNow() - options.Value.LabelTimeout;
        var count = 0;
        foreach (var group in groups)
        {
            var labels = group[0].Labels;
            if (registered.Match(labels) is { Online: 0, Offline: 0 })
            {
                var reason = $"no agent has labels [{string.Join(", ", labels)}] (waited {options.Value.LabelTimeout.TotalMinutes:0.##} minutes)";
                foreach (var item in group.TakeWhile(i => i.QueuedAt < deadline))
                {
                    if (await lifecycle.FailQueuedAsync(item.AttemptId, reason, Actor, ct)) count++;
                }
            }
        }
        return count;
    }
}
