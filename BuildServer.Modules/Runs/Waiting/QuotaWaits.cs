using BuildServer.Modules.Scheduling;

namespace BuildServer.Modules.Runs.Waiting;

/// <summary>
/// Shows a job whose queued attempt waits for its organisation's quota as <c>pending</c>, with the quota as its
/// status reason (the job and its attempt; the rows stay <c>queued</c>: the quota is a property of the moment,
/// known to the scheduler's view, see ADR 0005). One cheap view lookup per queued job.
/// </summary>
internal static class QuotaWaits
{
    /// <summary>The quota holding back the job's queued attempt, if any.</summary>
    public static OrgLoad? Hold(JobView job, ReadyAttempts ready) =>
        job.Status == Status.Queued && job.Attempts.Count > 0 && job.Attempts[^1] is { Status: Status.Queued } attempt
            ? ready.HeldByQuota(attempt.Id)
            : null;

    public static bool AnyHeld(IEnumerable<JobView> jobs, ReadyAttempts ready) => jobs.Any(j => Hold(j, ready) is not null);

    /// <summary>The jobs, those held back by the quota of organisation <paramref name="org"/> (its name) shown pending.</summary>
    public static IReadOnlyList<JobView> Show(IReadOnlyList<JobView> jobs, ReadyAttempts ready, string org) =>
        jobs.Select(j => Show(j, ready, org)).ToList();

    public static JobView Show(JobView job, ReadyAttempts ready, string org)
    {
        if (Hold(job, ready) is not { } hold) return job;
        var held = job.Attempts[^1] with { Status = Status.Pending };
        return job with
        {
            Status = Status.Pending,
            StatusReason = new OrgQuotaWait(org, hold.Running, hold.MaxRunning).Describe(),
            Attempts = [.. job.Attempts.Take(job.Attempts.Count - 1), held],
        };
    }

    public static RunView Show(RunView run, ReadyAttempts ready, string org) => run with { Jobs = Show(run.Jobs, ready, org) };
}
