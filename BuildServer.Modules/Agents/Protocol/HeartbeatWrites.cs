using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents.Protocol;

/// <summary>
/// What heartbeats write, batched: agents' <c>LastSeenAt</c> and the leases of the attempts they still run are collected
/// in memory and written together every <see cref="Every"/> (two statements for all the heartbeats of that interval),
/// so a heartbeat answers after two reads and never waits for SQLite's one writer behind claims and completions. A
/// lease is renewed at most <see cref="Every"/> later than its heartbeat came, which is nothing against a 30 s lease;
/// a crash loses at most that interval's renewals, and the next heartbeats renew them.
/// </summary>
internal sealed class HeartbeatWrites(IServiceScopeFactory scopes, TimeProvider time, ILogger<HeartbeatWrites> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private HashSet<long> _runners = [];
    private HashSet<long> _attempts = [];
    private TaskCompletionSource _pending = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="attempts">The runner's running attempts it named (checked as its own by the caller).</param>
    public void Record(long runnerId, IEnumerable<long> attempts)
    {
        lock (_gate)
        {
            _runners.Add(runnerId);
            _attempts.UnionWith(attempts);
            _pending.TrySetResult();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            Task pending;
            lock (_gate) pending = _pending.Task;
            try
            {
                await pending.WaitAsync(stoppingToken);
                await Task.Delay(Every, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await FlushAsync(stoppingToken);
        }
        await FlushAsync(CancellationToken.None); // what came before the stop
    }

    /// <summary>Writes what was recorded since the last flush (also called by tests and at shutdown).</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        HashSet<long> runners, attempts;
        lock (_gate)
        {
            (runners, attempts) = (_runners, _attempts);
            if (runners.Count == 0) return;
            (_runners, _attempts) = ([], []);
            _pending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IRunnerAttempts>().RenewLeasesAsync(attempts, ct);
            var now = time.GetUtcNow();
            var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
            await using (await scope.ServiceProvider.GetRequiredService<WriteGate>().EnterAsync(ct))
            {
                await db.Set<Runner>().Where(r => runners.Contains(r.Id)).ExecuteUpdateAsync(s => s.SetProperty(r => r.LastSeenAt, now), ct);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Writing {Runners} agent heartbeat(s) failed; their next heartbeats write them", runners.Count);
        }
    }
}
