using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Hangfire.InMemory;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runs;

/// <summary>
/// At start: registers the reconciler as a Hangfire recurring job, and, when Hangfire keeps its state in memory
/// (SQLite), schedules again from this module's tables what Hangfire held before the restart: the admission of
/// every retry still in its backoff. (On PostgreSQL Hangfire's own tables kept them.)
/// </summary>
internal sealed class BackgroundSchedule(
    IServiceScopeFactory scopes,
    IRecurringJobManager recurring,
    IBackgroundJobClient jobs,
    JobStorage storage,
    IOptions<RunsOptions> options,
    ILogger<BackgroundSchedule> logger) : IHostedService
{
    public const string ReconcilerId = "reconciler";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        recurring.AddOrUpdate<Reconciler>(ReconcilerId, BackgroundQueues.System, r => r.RunAsync(CancellationToken.None),
            options.Value.Reconcile, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
        if (storage is not InMemoryStorage)
        {
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
        var pending = await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => a.Status == Status.Pending && a.NotBefore != null)
            .Select(a => new { a.Id, a.NotBefore, a.Job!.Lane }).ToListAsync(cancellationToken);
        foreach (var a in pending)
        {
            jobs.Schedule<RetryAdmission>(BackgroundQueues.Of(a.Lane), r => r.AdmitAsync(a.Id, CancellationToken.None), a.NotBefore!.Value);
        }
        if (pending.Count > 0)
        {
            logger.LogInformation("Scheduled again {Count} retry(ies) waiting out their backoff", pending.Count);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
