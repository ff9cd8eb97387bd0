using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents;

/// <summary>The <c>Agents</c> section of appsettings.json: the server's view of all runners.</summary>
public sealed class AgentsOptions
{
    /// <summary>A runner not seen (heartbeat, lease renewal, registration) for this long counts as offline.</summary>
    public TimeSpan OfflineAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often agents send a heartbeat (the server tells them in every heartbeat's answer). Keep it well
    /// within <c>Runs:Lease</c> (30 s), the silence after which an agent's attempts are declared lost.</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest log chunk an agent may send (413 above it); agents send at most 1 MiB.</summary>
    public int MaxLogChunkBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>An attempt's log may not grow beyond this (413 for the chunk that would pass it; the agent then stops
    /// sending that attempt's log and says so in its own log).</summary>
    public long MaxLogBytesPerAttempt { get; set; } = 1024L * 1024 * 1024;
}

/// <summary>The runners table read for the scheduler: online means <see cref="Runner.LastSeenAt"/> is within
/// <see cref="AgentsOptions.OfflineAfter"/> of now, and the runner takes new work (neither disabled nor draining), so
/// a job that only a disabled or draining agent could run is explained as waiting for an agent.</summary>
internal sealed class RunnerDirectory(BuildDb db, TimeProvider time, IOptions<AgentsOptions> options) : IRunnerDirectory
{
    public async Task<IReadOnlyList<RunnerInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var runners = await db.Set<Runner>().AsNoTracking().OrderBy(r => r.Id)
            .Select(r => new { r.Id, r.Name, r.Labels, r.Slots, r.LastSeenAt, TakesWork = !r.Disabled && !r.Draining })
            .ToListAsync(cancellationToken);
        var seenSince = time.GetUtcNow() - options.Value.OfflineAfter;
        return runners.Select(r => new RunnerInfo(r.Id, r.Name, r.Labels, r.Slots, r.TakesWork && r.LastSeenAt >= seenSince, r.LastSeenAt)).ToList();
    }

    public async Task<LabelMatch> MatchAsync(IReadOnlyCollection<string> labels, CancellationToken cancellationToken) =>
        (await ListAsync(cancellationToken)).Match(labels);
}
