using System.Text.Json;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runs;

/// <summary>Creates attempts and their events; the one place that knows what a new attempt looks like.</summary>
internal static class AttemptFactory
{
    public static JobSpec Spec(string specJson) => JsonSerializer.Deserialize<JobSpec>(specJson, JsonDefaults.Options)!;

    /// <summary>Adds the job's next attempt, queued, with its steps pending and a "queued" event; with
    /// <paramref name="notBefore"/> later than now (a retry's backoff) it is <c>pending</c> until then instead.</summary>
    public static JobAttempt Queue(BuildDb db, Job job, int number, DateTimeOffset now, string reason, string actor, DateTimeOffset? notBefore = null)
    {
        var waits = notBefore > now;
        var spec = Spec(job.SpecJson ?? throw new InvalidOperationException($"Job {job.Key} is queued before it was expanded."));
        var attempt = new JobAttempt
        {
            Job = job,
            RunId = job.RunId,
            Run = job.Run,
            Number = number,
            Status = waits ? Status.Pending : Status.Queued,
            QueuedAt = now,
            NotBefore = waits ? notBefore : null,
            Steps = spec.Steps.Select((s, i) => new Step { Index = i, Name = StepNames.Display(s), Status = Status.Pending }).ToList(),
        };
        job.Attempts.Add(attempt);
        job.Status = attempt.Status;
        job.StatusReason = waits ? "retry backoff until " + Time(notBefore!.Value) : null;
        Event(db, attempt, now, waits ? "pending" : "queued", null, attempt.Status, reason, actor);
        return attempt;
    }

    /// <summary>A time as the API and reasons show it: UTC, ISO 8601, to the second.</summary>
    public static string Time(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Records a transition of an attempt that is tracked (possibly not yet saved, so without an id).</summary>
    public static void Event(BuildDb db, JobAttempt attempt, DateTimeOffset at, string kind, Status? from, Status to, string? reason, string actor) =>
        db.Add(new AttemptEvent { Attempt = attempt, At = at, Kind = kind, From = from, To = to, Reason = reason, Actor = actor });

    /// <summary>Records a transition of an attempt changed by a bulk update (known only by its id).</summary>
    public static void Event(BuildDb db, long attemptId, DateTimeOffset at, string kind, Status? from, Status to, string? reason, string actor) =>
        db.Add(new AttemptEvent { AttemptId = attemptId, At = at, Kind = kind, From = from, To = to, Reason = reason, Actor = actor });
}
