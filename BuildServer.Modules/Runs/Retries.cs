using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Runs;

/// <summary>Whether a finished attempt is tried again, and after how long.</summary>
/// <param name="Delay">The backoff: zero queues the next attempt at once.</param>
internal sealed record RetryDecision(TimeSpan Delay, string Why);

/// <summary>
/// The retry rules. A <c>failed</c> or <c>timed_out</c> attempt is retried while the job's policy (the workflow's
/// <c>retry:</c>, else the server's <see cref="RunsOptions.Retry"/>) has attempts left, after its backoff:
/// <c>fixed</c> waits <c>delay</c>, <c>exponential</c> waits <c>delay × 2^(n-1)</c> after attempt n (at most
/// <see cref="MaxDelay"/>), plus a random jitter from 0 to <c>jitter</c>. A <c>lost</c> attempt (the agent died,
/// its lease expired: not the job's fault) is retried at once while attempts are left under the higher of the
/// policy and <see cref="RunsOptions.MaxAttemptsOnLoss"/>. Cancelled, succeeded and skipped attempts, and
/// attempts of a run being cancelled, are never retried.
/// </summary>
internal static class Retries
{
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(1);

    public static RetryDecision? Decide(RetryPolicy policy, int maxAttemptsOnLoss, int attemptNumber, Status outcome, bool runCancelling, Random random)
    {
        if (runCancelling) return null;
        switch (outcome)
        {
            case Status.Lost when attemptNumber < Math.Max(policy.MaxAttempts, maxAttemptsOnLoss):
                return new RetryDecision(TimeSpan.Zero, "lost");
            case Status.Failed or Status.TimedOut when attemptNumber < policy.MaxAttempts:
                return new RetryDecision(Backoff(policy, attemptNumber, random), outcome.ToWire());
            default:
                return null;
        }
    }

    /// <summary>The wait after attempt <paramref name="attemptNumber"/> failed.</summary>
    public static TimeSpan Backoff(RetryPolicy policy, int attemptNumber, Random random)
    {
        var delay = policy.Backoff == Pipelines.Workflow.Backoff.Exponential
            ? TimeSpan.FromTicks((long)Math.Min(policy.Delay.Ticks * Math.Pow(2, Math.Max(0, attemptNumber - 1)), MaxDelay.Ticks))
            : policy.Delay;
        if (delay > MaxDelay) delay = MaxDelay;
        var jitter = policy.Jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)(random.NextDouble() * policy.Jitter.Ticks)) : TimeSpan.Zero;
        return delay + jitter;
    }
}
