using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>The Hangfire job that queues a retry when its backoff is over (scheduled in the job's lane's queue).</summary>
/// <remarks>Hangfire keeps a scheduled job's due time in whole seconds, so it may start it up to a second early:
/// the job then waits out the rest itself (or, should it be far too early, schedules itself again).</remarks>
internal sealed class RetryAdmission(AttemptLifecycle lifecycle, BuildDb db, IBackgroundJobClient jobs, TimeProvider time)
{
    private static readonly TimeSpan MaxWaitInJob = TimeSpan.FromSeconds(5);

    public async Task AdmitAsync(long attemptId, CancellationToken cancellationToken)
    {
        var due = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.Id == attemptId && a.Status == Status.Pending)
            .Select(a => new { a.NotBefore, a.Job!.Lane }).FirstOrDefaultAsync(cancellationToken);
        if (due is null) return; // admitted, cancelled, or gone: nothing to do
        var early = (due.NotBefore ?? DateTimeOffset.MinValue) - time.GetUtcNow();
        if (early > MaxWaitInJob)
        {
            jobs.Schedule<RetryAdmission>(BackgroundQueues.Of(due.Lane), r => r.AdmitAsync(attemptId, CancellationToken.None), due.NotBefore!.Value);
            return;
        }
        if (early > TimeSpan.Zero)
        {
            await Task.Delay(early, time, cancellationToken);
        }
        await lifecycle.AdmitRetryAsync(attemptId, "server", cancellationToken);
    }
}
