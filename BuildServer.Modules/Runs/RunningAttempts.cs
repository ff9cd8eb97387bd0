using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>An attempt running on a runner now, as the agents page lists it (its job's log view is <c>/jobs/{JobId}</c>).</summary>
public sealed record RunningAttempt(
    long RunnerId, long AttemptId, int Number, long JobId, string Job, long RunId, long RunNumber, long ProjectId, long OrgId,
    DateTimeOffset? StartedAt);

/// <summary>The Runs module's contract for "what does each agent run now" (read-only, scoped).</summary>
public interface IRunningAttempts
{
    /// <summary>Every running attempt that has a runner, oldest first.</summary>
    Task<IReadOnlyList<RunningAttempt>> ListAsync(CancellationToken cancellationToken);
}

internal sealed class RunningAttempts(BuildDb db) : IRunningAttempts
{
    public async Task<IReadOnlyList<RunningAttempt>> ListAsync(CancellationToken cancellationToken) =>
        await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => a.Status == Status.Running && a.RunnerId != null)
            .OrderBy(a => a.Id)
            .Select(a => new RunningAttempt(a.RunnerId!.Value, a.Id, a.Number, a.JobId, a.Job!.Name, a.RunId, a.Run!.Number,
                a.Run.ProjectId, a.Run.OrgId, a.StartedAt))
            .ToListAsync(cancellationToken);
}
