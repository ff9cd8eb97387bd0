using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runs;

internal sealed class RunnerAttempts(BuildDb db, WriteGate writes, TimeProvider time, IOptions<RunsOptions> options) : IRunnerAttempts
{
    public Task<AttemptHolder?> FindAsync(long attemptId, int? stepIndex, CancellationToken ct) =>
        stepIndex is { } index
            ? db.Set<JobAttempt>().AsNoTracking().Where(a => a.Id == attemptId)
                .Select(a => new AttemptHolder(a.RunId, a.RunnerId, a.Status, a.FailureReason,
                    a.Steps.Where(s => s.Index == index).Select(s => (long?)s.Id).FirstOrDefault()))
                .FirstOrDefaultAsync(ct)
            : db.Set<JobAttempt>().AsNoTracking().Where(a => a.Id == attemptId)
                .Select(a => new AttemptHolder(a.RunId, a.RunnerId, a.Status, a.FailureReason, null)).FirstOrDefaultAsync(ct);

    public Task<AttemptTransition?> LastTransitionAsync(long attemptId, CancellationToken ct) =>
        db.Set<AttemptEvent>().AsNoTracking().Where(e => e.AttemptId == attemptId).OrderByDescending(e => e.Id)
            .Select(e => new AttemptTransition(e.To, e.Actor, e.Reason)).FirstOrDefaultAsync(ct);

    public async Task<IReadOnlyList<RunnerAttempt>> RunningAsync(long runnerId, IReadOnlyCollection<long> attemptIds, CancellationToken ct) =>
        attemptIds.Count == 0 ? [] : await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => attemptIds.Contains(a.Id) && a.RunnerId == runnerId && a.Status == Status.Running)
            .Select(a => new RunnerAttempt(a.Id, a.CancelRequestedAt != null || a.Run!.CancelRequestedAt != null))
            .ToListAsync(ct);

    public async Task<int> RenewLeasesAsync(IReadOnlyCollection<long> attemptIds, CancellationToken ct)
    {
        if (attemptIds.Count == 0) return 0;
        var until = time.GetUtcNow() + options.Value.Lease;
        await using var gate = await writes.EnterAsync(ct);
        return await db.Set<JobAttempt>().Where(a => a.Status == Status.Running && attemptIds.Contains(a.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, until), ct);
    }

    public async Task<int> ExtendLeasesAsync(IReadOnlyCollection<long> runnerIds, CancellationToken ct)
    {
        if (runnerIds.Count == 0) return 0;
        var until = time.GetUtcNow() + options.Value.Lease;
        await using var gate = await writes.EnterAsync(ct);
        return await db.Set<JobAttempt>().Where(a => a.Status == Status.Running && a.RunnerId != null && runnerIds.Contains(a.RunnerId.Value))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, until), ct);
    }
}
