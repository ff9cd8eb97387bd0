using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Agents.Worker;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runtime;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents;

/// <summary>
/// The agent inside the server process: the same <see cref="AgentWorker"/> as a remote agent, talking the same
/// protocol through an <see cref="InProcessTransport"/> (direct calls, cancels pushed at once). An idle slot's
/// acquire waits on the dispatch signal, so a new job is picked up the moment it is queued. When the server
/// stops, its running jobs stop and are reported lost (the next start declares lost whatever was not reported).
/// </summary>
internal sealed class BuiltInAgent(
    IServiceScopeFactory scopes,
    IDispatchSignal dispatch,
    IExecutor executor,
    IJobRunner jobs,
    IAttemptCancellation cancellation,
    DataDirectory data,
    TimeProvider time,
    IOptions<BuiltInAgentOptions> options,
    IOptions<AgentsOptions> agents,
    ILoggerFactory loggers,
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
        var identity = new AgentIdentity(runner.Id, runner.Name, runner.Labels, null, Draining: false);
        using var worker = new AgentWorker(new InProcessTransport(scopes, cancellation, identity), executor, jobs,
            new AgentWorkerOptions(runner.Name, settings.Slots, data.Folder("agent-outbox"), agents.Value.Heartbeat)
            {
                LongPoll = settings.IdleRecheck,
                SweepInterval = settings.SweepInterval,
                DeliveryGrace = TimeSpan.FromSeconds(5),
            },
            time, loggers.CreateLogger("BuildServer.Modules.Agents.BuiltInAgent.Worker"));
        dispatch.Notify(); // whatever was queued before the start
        // The server stopping stops the jobs at once (reported lost): the built-in agent has no drain of its own.
        await worker.RunAsync(stoppingToken, stoppingToken);
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
        // What the executor can run is advertised, so that jobs may ask for it (runs-on: [self-hosted, docker]).
        runner.Labels = [.. settings.Labels.Concat(executor.RunsContainers ? ["docker"] : [])
            .Concat(executor.RunsMicroVms ? [JobRequirements.MicroVmLabel] : []).Distinct()];
        runner.Slots = settings.Slots;
        runner.Version = BuildInfo.Version;
        runner.LastSeenAt = time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return new RunnerRef(runner.Id, runner.Name, runner.Labels.ToHashSet());
    }
}
