namespace BuildServer.Modules.Runs;

/// <summary>The Hangfire job that queues a retry when its backoff is over (scheduled in the job's lane's queue).</summary>
internal sealed class RetryAdmission(AttemptLifecycle lifecycle)
{
    public Task AdmitAsync(long attemptId, CancellationToken cancellationToken) =>
        lifecycle.AdmitRetryAsync(attemptId, "server", cancellationToken);
}
