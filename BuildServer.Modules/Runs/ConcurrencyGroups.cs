using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>
/// The workflow's <c>concurrency</c>: per project, at most one run of a group is in progress; a newer run waits as
/// <c>pending</c> (held) until the group is free, and a run that arrives while another one is held supersedes
/// it (the held one is cancelled: only the newest waits, as on GitHub). With <c>cancel-in-progress</c>, the
/// runs in progress are cancelled and the new run starts once they have stopped. A held run is a run whose
/// status is <c>pending</c> and which has a group: nothing of it is queued until it is released.
/// </summary>
internal static class ConcurrencyGroups
{
    public static bool IsHeld(Run run) => run.Status == Status.Pending && run.ConcurrencyGroup is not null;

    public static string HeldReason(string group, long holderNumber) => $"waiting for concurrency group '{group}' (held by run #{holderNumber})";

    /// <summary>Serialises decisions about one group inside the caller's transaction: a transaction-scoped advisory
    /// lock on PostgreSQL (several nodes); on SQLite the write gate and the database lock already do.</summary>
    public static async Task LockAsync(BuildDb db, long projectId, string group, CancellationToken ct)
    {
        if (!db.Database.IsNpgsql()) return;
        var key = $"concurrency:{projectId}:{group}";
        await db.Database.ExecuteSqlInterpolatedAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))", ct);
    }

    /// <summary>The group's runs not finished, oldest first (besides <paramref name="except"/>).</summary>
    public static Task<List<GroupRun>> UnfinishedAsync(BuildDb db, long projectId, string group, long except, CancellationToken ct) =>
        db.Set<Run>().AsNoTracking()
            .Where(r => r.ProjectId == projectId && r.ConcurrencyGroup == group && r.Id != except
                        && (r.Status == Status.Pending || r.Status == Status.Queued || r.Status == Status.Running))
            .OrderBy(r => r.Id)
            .Select(r => new GroupRun(r.Id, r.Number, r.Status))
            .ToListAsync(ct);
}

internal sealed record GroupRun(long Id, long Number, Status Status)
{
    public bool Held => Status == Status.Pending;
}
