using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines.Planning;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>What moving a run forward did: attempts queued (wake the agents) and running attempts to stop
/// (fail-fast siblings; signal them once the transaction has committed).</summary>
internal sealed record Progress(int Queued, IReadOnlyList<long> StopRunning);

/// <summary>
/// Moves a run's DAG forward after one of its jobs changed. Callers hold the run's row lock
/// (<see cref="LockRunAsync"/>) inside their transaction, so sibling jobs finishing at the same moment
/// see each other's results and a dependent is admitted exactly once. The decisions themselves (a job's
/// <c>if</c>, its matrix, the <c>needs</c> context) are the <see cref="Planner"/>'s, shared with
/// <c>buildserver run</c>.
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

    /// <summary>Admits jobs whose needs have all finished (their <c>if</c> decides: run, or skip), expands their
    /// matrix, queues matrix jobs up to <c>max-parallel</c>, applies fail-fast, and finishes the run once every
    /// job has.</summary>
    public static async Task<Progress> AdvanceAsync(BuildDb db, Run run, DateTimeOffset now, string actor, CancellationToken ct)
    {
        var queued = 0;
        var stop = new List<long>();
        RunContext? context = null;
        bool changed;
        do
        {
            changed = false;
            foreach (var job in run.Jobs.Where(j => j.Status.IsFinished() && IsFailure(j) && j.FailFast).ToList())
            {
                // Siblings still running are told to stop (once); they finish when their agents report back.
                var siblings = run.Jobs.Where(s => s.Key == job.Key && s != job && !s.Status.IsFinished()
                                                   && !s.Attempts.Any(a => stop.Contains(a.Id))).ToList();
                if (siblings.Count > 0)
                {
                    stop.AddRange(await CancelJobsAsync(db, siblings, now, actor, $"fail-fast: '{job.Name}' {job.Status.ToWire()}", ct));
                    changed |= siblings.Any(s => s.Status.IsFinished());
                }
            }
            foreach (var job in run.Jobs.Where(j => j.Status == Status.Pending && j.Attempts.Count == 0 && !ConcurrencyGroups.IsHeld(run)).ToList())
            {
                if (job.TemplateJson is not null)
                {
                    var needed = run.Jobs.Where(n => job.Needs.Contains(n.Key)).ToList();
                    if (needed.Any(n => !n.Status.IsFinished()))
                    {
                        continue;
                    }
                    context ??= Context(run);
                    queued += Admit(db, run, job, context, Needs(job.Needs, needed), now, actor);
                    changed = true;
                }
                else if (NeedsFinished(run, job) && HasMatrixSlot(run, job))
                {
                    // An expanded job waiting: for a free matrix slot, or (re-run) for jobs it needs that run again.
                    if (run.CancelRequestedAt is not null)
                    {
                        Finish(job, Status.Cancelled, now, "the run was cancelled");
                    }
                    else
                    {
                        await QueueExpandedAsync(db, run, job, now, actor, ct);
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
        return new Progress(queued, stop);
    }

    /// <summary>Decides an unexpanded job whose needs have finished: its <c>if</c> false → skipped; its matrix
    /// or job keys failing to evaluate → failed with the reason; else the row becomes the first matrix
    /// combination, rows are added for the others, and up to max-parallel of them are queued.</summary>
    public static int Admit(BuildDb db, Run run, Job job, RunContext context, JsonObject needs, DateTimeOffset now, string actor)
    {
        var template = JsonSerializer.Deserialize<JobTemplate>(job.TemplateJson!, JsonDefaults.Options)!;
        var cancelled = run.CancelRequestedAt is not null;
        var condition = Planner.ShouldRun(template, context, needs, cancelled);
        if (condition.Error is not null)
        {
            Finish(job, Status.Failed, now, condition.Error);
            return 0;
        }
        if (!condition.Run)
        {
            Finish(job, cancelled ? Status.Cancelled : Status.Skipped, now, SkipReason(template, needs, cancelled));
            return 0;
        }
        var expansion = Planner.Expand(template, context, needs);
        if (expansion.Error is not null)
        {
            Finish(job, Status.Failed, now, expansion.Error);
            return 0;
        }
        var needsJson = needs.ToJsonString();
        var queued = 0;
        for (var i = 0; i < expansion.Jobs.Count; i++)
        {
            var spec = expansion.Jobs[i];
            var row = i == 0 ? job : new Job { Run = run, RunId = run.Id, Key = job.Key, Name = "", CreatedAt = now, Needs = job.Needs, Lane = job.Lane };
            row.Ordinal = i;
            row.Name = spec.Name.Length > 200 ? spec.Name[..199] + "…" : spec.Name;
            row.RunsOn = [.. spec.RunsOn];
            row.SpecJson = JsonSerializer.Serialize(spec, JsonDefaults.Options);
            row.TemplateJson = null;
            row.NeedsJson = needsJson;
            row.ContinueOnError = spec.ContinueOnError;
            row.TimeoutMinutes = spec.TimeoutMinutes;
            row.FailFast = spec.Strategy["fail-fast"]?.GetValue<bool>() ?? true;
            row.MaxParallel = spec.Matrix is null ? null : spec.Strategy["max-parallel"]?.GetValue<int>();
            row.Status = Status.Pending;
            if (i > 0) run.Jobs.Add(row);
            if (row.MaxParallel is not { } max || i < max)
            {
                var reason = job.Needs.Count == 0 ? "run created by " + run.TriggeredBy : "needs finished: " + string.Join(", ", job.Needs);
                AttemptFactory.Queue(db, row, 1, now, reason, actor);
                queued++;
            }
            else
            {
                row.StatusReason = $"waiting for a free matrix slot (max-parallel {max})";
            }
        }
        return queued;
    }

    private static string SkipReason(JobTemplate template, JsonObject needs, bool cancelled)
    {
        if (cancelled) return "the run was cancelled";
        if (template.Job.If is { } condition) return $"'if: {condition.Text}' was false";
        var blocker = needs.FirstOrDefault(n => n.Value?["result"]?.GetValue<string>() != "success");
        return $"needs '{blocker.Key}', which did not succeed ({blocker.Value?["result"]})";
    }

    /// <summary>Queues an expanded job that waited: its first attempt (a matrix slot came free), or the next one of a
    /// job re-run (<see cref="RerunFailedJobs"/>), which sees the <c>needs</c> as they are now.</summary>
    private static async Task QueueExpandedAsync(BuildDb db, Run run, Job job, DateTimeOffset now, string actor, CancellationToken ct)
    {
        // Only unfinished attempts are loaded: a re-run job's earlier ones are in the table.
        var number = job.Id == 0 ? 1 : (await db.Set<JobAttempt>().Where(a => a.JobId == job.Id).MaxAsync(a => (int?)a.Number, ct) ?? 0) + 1;
        if (number == 1)
        {
            AttemptFactory.Queue(db, job, 1, now, "a matrix slot is free (max-parallel)", actor);
            return;
        }
        if (job.Needs.Count > 0)
        {
            job.NeedsJson = Needs(job.Needs, run.Jobs.Where(n => job.Needs.Contains(n.Key))).ToJsonString();
        }
        var why = job.Needs.Count > 0 ? "needs finished: " + string.Join(", ", job.Needs) : "a matrix slot is free (max-parallel)";
        AttemptFactory.Queue(db, job, number, now, "re-run; " + why, actor);
    }

    internal static bool NeedsFinished(Run run, Job job) =>
        job.Needs.Count == 0 || run.Jobs.Where(n => job.Needs.Contains(n.Key)).All(n => n.Status.IsFinished());

    internal static bool HasMatrixSlot(Run run, Job job) =>
        job.MaxParallel is not { } max
        || run.Jobs.Count(s => s.Key == job.Key && s.Status is Status.Queued or Status.Running) < max;

    public static RunContext Context(Run run) =>
        (run.ContextJson is { Length: > 2 } json ? JsonSerializer.Deserialize<RunContext>(json, JsonDefaults.Options) : null)
        ?? new RunContext([], [], []);

    /// <summary>The <c>needs</c> context from the finished rows of the jobs needed.</summary>
    public static JsonObject Needs(IEnumerable<string> needs, IEnumerable<Job> needed) =>
        Planner.NeedsContext(needs, needed.Select(n => new NeedResult(n.Key, Result(n), Outputs(n))));

    private static Dictionary<string, string> Outputs(Job job) =>
        job.OutputsJson is null ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(job.OutputsJson) ?? [];

    /// <summary>A job as <c>needs.&lt;job&gt;.result</c> says it: a failure with continue-on-error counts as success.</summary>
    public static string Result(Job job) => job.Status switch
    {
        Status.Succeeded => "success",
        Status.Failed or Status.TimedOut or Status.Lost => job.ContinueOnError ? "success" : "failure",
        Status.Cancelled => "cancelled",
        _ => "skipped",
    };

    private static bool IsFailure(Job job) => job.Status is Status.Failed or Status.TimedOut or Status.Lost && !job.ContinueOnError;

    /// <summary>Cancels jobs that have not finished: waiting and queued ones at once; running attempts are
    /// returned, for their agents to be told after the caller commits.</summary>
    public static async Task<List<long>> CancelJobsAsync(BuildDb db, IEnumerable<Job> jobs, DateTimeOffset now, string actor, string reason, CancellationToken ct)
    {
        var running = new List<long>();
        foreach (var job in jobs.Where(j => !j.Status.IsFinished()))
        {
            var attempt = job.Attempts.FirstOrDefault(a => !a.Status.IsFinished());
            if (attempt is null)
            {
                Finish(job, Status.Cancelled, now, reason);
            }
            else if (attempt.Status is Status.Queued or Status.Pending && await TryCancelWaitingAsync(db, attempt.Id, attempt.Status, now, reason, ct))
            {
                // Written by the conditional update: the tracked copy takes the same values, unmodified.
                var from = attempt.Status;
                var entry = db.Entry(attempt);
                attempt.Status = Status.Cancelled;
                attempt.FinishedAt = now;
                attempt.FailureReason = reason;
                entry.OriginalValues.SetValues(entry.CurrentValues);
                AttemptFactory.Event(db, attempt, now, "cancelled", from, Status.Cancelled, reason, actor);
                Finish(job, Status.Cancelled, now, reason);
            }
            else
            {
                attempt.CancelRequestedAt ??= now; // recorded, for an agent that starts watching after the signal
                running.Add(attempt.Id); // running, or claimed a moment ago: its agent stops it
            }
        }
        return running;
    }

    /// <summary>Cancels a queued (or backing-off) attempt only if no agent has claimed it in the meantime.</summary>
    private static async Task<bool> TryCancelWaitingAsync(BuildDb db, long attemptId, Status status, DateTimeOffset now, string reason, CancellationToken ct) =>
        await db.Set<JobAttempt>().Where(a => a.Id == attemptId && a.Status == status)
            .ExecuteUpdateAsync(s => s
                .SetProperty(a => a.Status, Status.Cancelled)
                .SetProperty(a => a.FinishedAt, now)
                .SetProperty(a => a.FailureReason, reason), ct) == 1;

    public static void Finish(Job job, Status status, DateTimeOffset now, string? reason)
    {
        job.Status = status;
        job.StatusReason = reason;
        job.FinishedAt ??= now;
    }

    /// <summary>A run failed if a job failed or timed out (without continue-on-error), was cancelled if a job
    /// was, else succeeded (or skipped, when every job was).</summary>
    private static Status Aggregate(IEnumerable<Job> jobs)
    {
        var list = jobs.ToList();
        if (list.Any(IsFailure)) return Status.Failed;
        if (list.Any(j => j.Status == Status.Cancelled)) return Status.Cancelled;
        return list.Any(j => j.Status is Status.Succeeded or Status.Failed or Status.TimedOut or Status.Lost) ? Status.Succeeded : Status.Skipped;
    }
}
