using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents;

/// <summary>
/// The agent inside the server process: <see cref="BuiltInAgentOptions.Slots"/> loops that each claim an
/// attempt through the same lifecycle contract remote agents will use, and run it. An idle slot sleeps on
/// the dispatch signal, so a new job is picked up the moment it is queued.
/// </summary>
internal sealed class BuiltInAgent(
    IServiceScopeFactory scopes,
    IDispatchSignal dispatch,
    IExecutor executor,
    AttemptExecution execution,
    DataDirectory data,
    TimeProvider time,
    IOptions<BuiltInAgentOptions> options,
    ILogger<BuiltInAgent> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Slots <= 0)
        {
            logger.LogInformation("The built-in agent is off (Agent:Slots = 0)");
            return;
        }
        var runner = await RegisterAsync(settings, stoppingToken);
        await executor.RemoveLeftoversAsync(stoppingToken);
        await using (var scope = scopes.CreateAsyncScope())
        {
            var recovered = await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>()
                .RecoverRunnerAsync(runner.Id, "the server stopped while the attempt was running", stoppingToken);
            if (recovered > 0)
            {
                logger.LogWarning("Declared {Count} attempt(s) of the previous start lost", recovered);
            }
        }
        logger.LogInformation("Built-in agent {Name} ready with {Slots} slot(s), labels [{Labels}]",
            runner.Name, settings.Slots, string.Join(", ", runner.Labels));
        dispatch.Notify(); // whatever was queued before the start
        await Task.WhenAll(Enumerable.Range(0, settings.Slots).Select(slot => SlotAsync(runner, slot, stoppingToken))
            .Append(HeartbeatAsync(runner, stoppingToken)));
    }

    /// <summary>Renews the leases of the attempts this agent runs, and says it is alive, every <c>Agent:Heartbeat</c>.</summary>
    private async Task HeartbeatAsync(RunnerRef runner, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Quietly(Task.Delay(options.Value.Heartbeat, time, stoppingToken));
            if (stoppingToken.IsCancellationRequested) return;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().RenewLeasesAsync(runner.Id, stoppingToken);
                var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
                var now = time.GetUtcNow();
                await using var gate = await scope.ServiceProvider.GetRequiredService<WriteGate>().EnterAsync(stoppingToken);
                await db.Set<Runner>().Where(r => r.Id == runner.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.LastSeenAt, now), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Heartbeat of the built-in agent failed; the next one is in {Interval}", options.Value.Heartbeat);
            }
        }
    }

    private async Task SlotAsync(RunnerRef runner, int slot, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var pulse = dispatch.NextPulse; // taken before looking, so a job queued meanwhile still wakes us
                ClaimedAttempt? claim;
                await using (var scope = scopes.CreateAsyncScope())
                {
                    claim = await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().TryClaimAsync(runner, stoppingToken);
                }
                if (claim is null)
                {
                    await Quietly(pulse.WaitAsync(options.Value.IdleRecheck, time, stoppingToken));
                    continue;
                }
                await execution.RunAsync(runner, claim, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Built-in agent slot {Slot} failed; it retries in a second", slot);
                await Quietly(Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken));
            }
        }
    }

    /// <summary>Waits for a wake-up or a pause to end; its time-out or the host stopping end the wait, not the slot
    /// (the loop condition sees the stop).</summary>
    private static async Task Quietly(Task wait)
    {
        try
        {
            await wait;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // nothing to do: look for work again, or leave the loop
        }
    }

    /// <summary><c>builtin@&lt;host&gt;#&lt;data folder hash&gt;</c>: stable across restarts, distinct for two nodes on one host.</summary>
    internal static string DefaultName(DataDirectory data) =>
        $"builtin@{Environment.MachineName}#{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(data.Root)))[..6]}";

    private async Task<RunnerRef> RegisterAsync(BuiltInAgentOptions settings, CancellationToken ct)
    {
        var name = settings.Name ?? DefaultName(data);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
        var runner = await db.Set<Runner>().FirstOrDefaultAsync(r => r.Name == name, ct);
        if (runner is null)
        {
            runner = new Runner { Name = name, Kind = RunnerKinds.BuiltIn, CreatedAt = time.GetUtcNow() };
            db.Add(runner);
        }
        runner.Labels = [.. settings.Labels.Distinct()];
        runner.Slots = settings.Slots;
        runner.Version = typeof(BuiltInAgent).Assembly.GetName().Version?.ToString();
        runner.LastSeenAt = time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return new RunnerRef(runner.Id, runner.Name, runner.Labels.ToHashSet());
    }
}
