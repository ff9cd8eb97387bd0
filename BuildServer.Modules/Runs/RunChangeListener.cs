using System.Threading.Channels;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace BuildServer.Modules.Runs;

/// <summary>
/// On PostgreSQL, keeps this node's scheduler view in step with the runs other nodes change: it <c>LISTEN</c>s on
/// <see cref="RunChangeNotice.Channel"/> over a connection of its own, reflects each notified run's attempts into
/// the view (<see cref="SchedulerFeed.ReflectAsync"/>), and wakes the idle agent slots. Notices arriving together
/// are read once per run. Its own node's notices come back too and change nothing (the view has them already).
/// A lost connection is reopened with a growing pause (1 s to 30 s), then the whole view is rebuilt, since notices
/// sent meanwhile are gone. On SQLite it does nothing. The periodic rebuild (<see cref="SchedulerFeedService"/>)
/// stays the safety net.
/// </summary>
internal sealed class RunChangeListener(
    IServiceScopeFactory scopes,
    DatabaseOptions database,
    ReadyAttempts ready,
    IDispatchSignal dispatch,
    RunUpdates updates,
    IOptions<SchedulerSyncOptions> sync,
    TimeProvider time,
    ILogger<RunChangeListener> logger) : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<long> _runs = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true });
    private Task _loops = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (database.Provider != DatabaseProvider.Postgres)
        {
            return;
        }
        NpgsqlConnection? first = null;
        try
        {
            first = await ListenAsync(cancellationToken); // listening before the start completes: no notice after it is missed
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogWarning(e, "Could not listen for run changes yet; retrying in the background");
        }
        _loops = Task.WhenAll(ListenLoopAsync(first, _stop.Token), ReflectLoopAsync(_stop.Token));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _loops.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task<NpgsqlConnection> ListenAsync(CancellationToken ct)
    {
        var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Pooling = false, // a long-lived connection of its own, never handed back with LISTEN state
            KeepAlive = 15, // a dead server or network shows up as a failed wait, not as silence
        };
        var connection = new NpgsqlConnection(settings.ConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            connection.Notification += (_, e) =>
            {
                if (long.TryParse(e.Payload, out var runId)) _runs.Writer.TryWrite(runId);
            };
            await using var listen = new NpgsqlCommand("LISTEN " + RunChangeNotice.Channel, connection);
            await listen.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task ListenLoopAsync(NpgsqlConnection? connection, CancellationToken stop)
    {
        var pause = FirstPause;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (connection is null)
                {
                    connection = await ListenAsync(stop);
                    logger.LogInformation("Listening for run changes again; rebuilding the scheduler view");
                    await ResyncAsync(stop);
                }
                pause = FirstPause;
                while (true)
                {
                    await connection.WaitAsync(stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Listening for run changes failed; reconnecting in {Pause}", pause);
                if (connection is not null) await connection.DisposeAsync();
                connection = null;
                try
                {
                    await Task.Delay(pause, time, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
            }
        }
        if (connection is not null) await connection.DisposeAsync();
        _runs.Writer.TryComplete();
    }

    private async Task ReflectLoopAsync(CancellationToken stop)
    {
        var batch = new HashSet<long>();
        try
        {
            while (await _runs.Reader.WaitToReadAsync(stop))
            {
                while (_runs.Reader.TryRead(out var runId)) batch.Add(runId);
                try
                {
                    await ReflectAsync(batch, stop);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Reflecting changed runs into the scheduler view failed; the next rebuild catches up");
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // stopping
        }
    }

    private async Task ReflectAsync(IReadOnlyCollection<long> runs, CancellationToken ct)
    {
        // Finishes older than two rebuilds were settled by a rebuild already (and clocks of nodes may differ a little).
        var since = time.GetUtcNow() - 2 * sync.Value.Resync - TimeSpan.FromMinutes(1);
        var queued = 0;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
            foreach (var runId in runs)
            {
                queued += await SchedulerFeed.ReflectAsync(db, ready, runId, since, ct);
                updates.Changed(runId); // pages showing the run follow another node's change too
            }
        }
        if (queued > 0 || ready.Count > 0) dispatch.Notify(); // new work, or quota freed for waiting work
    }

    private async Task ResyncAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        await SchedulerFeed.ResyncAsync(sp.GetRequiredService<BuildDb>(), sp.GetRequiredService<IOrganizationShares>(), ready, ct);
        if (ready.Count > 0) dispatch.Notify();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}
