using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runs;

/// <summary>
/// Keeps the scheduler's in-memory view (<see cref="ReadyAttempts"/>) in step with this module's tables, which
/// stay the record: after every committed change of a run its attempts are reflected (queued ones added,
/// finished ones removed and no longer counted), the whole view is rebuilt from the tables at start, and again
/// every <see cref="SchedulerSyncOptions.Resync"/> as a safety net (attempts queued by another server node on
/// the same PostgreSQL database reach this node's agents that way).
/// </summary>
internal static class SchedulerFeed
{
    /// <summary>Reflects a run's attempts after its transaction committed; the number of queued ones.</summary>
    public static int Publish(ReadyAttempts ready, Run run)
    {
        var queued = 0;
        foreach (var job in run.Jobs)
        {
            foreach (var attempt in job.Attempts)
            {
                if (attempt.Status == Status.Queued)
                {
                    ready.Add(Item(attempt, job, run.OrgId));
                    queued++;
                }
                else if (attempt.Status.IsFinished())
                {
                    ready.Remove(attempt.Id);
                    ready.Finished(run.OrgId, attempt.Id);
                }
            }
        }
        return queued;
    }

    public static ReadyItem Item(JobAttempt attempt, Job job, long orgId) =>
        new(attempt.Id, orgId, job.Lane, job.RunsOn, attempt.QueuedAt, job.Id, job.RunId, TimeSpan.FromMinutes(job.TimeoutMinutes));

    /// <summary>Reflects a run another node changed (or this one: the same changes again are no-ops), read from the
    /// tables: queued attempts are added, running ones count for their organisation, and attempts finished since
    /// <paramref name="finishedSince"/> are dropped and no longer count (older ones were settled by a rebuild since).
    /// Returns the number of queued ones.</summary>
    public static async Task<int> ReflectAsync(BuildDb db, ReadyAttempts ready, long runId, DateTimeOffset finishedSince, CancellationToken ct)
    {
        var attempts = await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => a.RunId == runId && (a.Status == Status.Queued || a.Status == Status.Running || a.FinishedAt >= finishedSince))
            .Select(a => new { a.Status, Item = new ReadyItem(a.Id, a.Run!.OrgId, a.Job!.Lane, a.Job.RunsOn, a.QueuedAt, a.JobId, a.RunId, TimeSpan.FromMinutes(a.Job.TimeoutMinutes)) })
            .ToListAsync(ct);
        var queued = 0;
        foreach (var (status, item) in attempts.Select(a => (a.Status, a.Item)))
        {
            if (status == Status.Queued)
            {
                ready.Add(item);
                queued++;
            }
            else if (status == Status.Running)
            {
                ready.Remove(item.AttemptId);
                ready.Running(item.OrgId, item.AttemptId);
            }
            else if (status.IsFinished())
            {
                ready.Remove(item.AttemptId);
                ready.Finished(item.OrgId, item.AttemptId);
            }
        }
        return queued;
    }

    /// <summary>Rebuilds the whole view from the tables.</summary>
    public static async Task ResyncAsync(BuildDb db, IOrganizationShares shares, ReadyAttempts ready, CancellationToken ct)
    {
        ready.BeginSnapshot(); // what is published while the tables are read survives the reset
        try
        {
            var waiting = await db.Set<JobAttempt>().AsNoTracking()
                .Where(a => a.Status == Status.Queued)
                .OrderBy(a => a.Id) // the view orders by queued time itself
                .Select(a => new { a.Id, a.Run!.OrgId, a.Job!.Lane, a.Job.RunsOn, a.QueuedAt, a.JobId, a.RunId, a.Job.TimeoutMinutes })
                .ToListAsync(ct);
            var running = await db.Set<JobAttempt>().AsNoTracking()
                .Where(a => a.Status == Status.Running)
                .Select(a => new { a.Run!.OrgId, a.Id })
                .ToListAsync(ct);
            var orgShares = await shares.AllAsync(ct);
            ready.Reset(waiting.Select(a => new ReadyItem(a.Id, a.OrgId, a.Lane, a.RunsOn, a.QueuedAt, a.JobId, a.RunId, TimeSpan.FromMinutes(a.TimeoutMinutes))), running.Select(r => (r.OrgId, r.Id)), orgShares);
        }
        catch
        {
            ready.AbandonSnapshot();
            throw;
        }
    }
}

/// <summary>The <c>Scheduling</c> section's settings for the view's rebuilds.</summary>
public sealed class SchedulerSyncOptions
{
    /// <summary>How often the in-memory view is rebuilt from the tables (a safety net, not the pickup path).</summary>
    public TimeSpan Resync { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Builds the view before the agents start claiming, then rebuilds it periodically.</summary>
internal sealed class SchedulerFeedService(
    IServiceScopeFactory scopes,
    ReadyAttempts ready,
    IDispatchSignal dispatch,
    IOptions<SchedulerSyncOptions> options,
    TimeProvider time,
    ILogger<SchedulerFeedService> logger) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await ResyncAsync(cancellationToken);
        logger.LogInformation("Scheduler view built: {Count} attempt(s) waiting", ready.Count);
        _loop = LoopAsync(_stop.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.Resync, time, stop);
                var before = ready.Count;
                await ResyncAsync(stop);
                if (ready.Count > 0) dispatch.Notify();
                if (ready.Count != before) logger.LogDebug("Scheduler view rebuilt: {Before} → {After} waiting", before, ready.Count);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Rebuilding the scheduler view failed; the next try is in {Interval}", options.Value.Resync);
            }
        }
    }

    private async Task ResyncAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        await SchedulerFeed.ResyncAsync(sp.GetRequiredService<BuildDb>(), sp.GetRequiredService<IOrganizationShares>(), ready, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}
