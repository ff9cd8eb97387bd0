using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>
/// Makes an organisation's quota of running attempts exact across server nodes. Each node's scheduler view counts
/// the attempts it knows of, so on PostgreSQL, where several nodes share one database, two nodes could each start
/// a job of an organisation at its last free slot. Inside the claim's transaction, before the conditional update,
/// this takes a transaction-scoped advisory lock for the organisation (claims of one organisation with a quota
/// serialise across all nodes until their commit) and counts its running attempts in the tables.
/// On SQLite nothing is checked: a SQLite database has one server node (and one writer), whose view sees every
/// claim and every finish of its database, so the view's own quota check in <see cref="ReadyAttempts.Reserve"/>
/// is exact there.
/// </summary>
internal sealed class OrgQuotaCheck(BuildDb db, DatabaseOptions options, IOrganizationShares shares, ReadyAttempts ready)
{
    /// <summary>The first key of the advisory lock: "organisation quota" (the second is the organisation).</summary>
    private const int LockClass = 0x4253_0051;

    /// <summary>Call inside the claim transaction, before the conditional update. False: the organisation is at its
    /// quota; the candidate is back in the view, and the view now counts what the tables show running, so the next
    /// decision on this node looks elsewhere until one of them finishes.</summary>
    public async Task<bool> AdmitAsync(ReadyItem candidate, CancellationToken ct)
    {
        if (options.Provider != DatabaseProvider.Postgres)
        {
            return true;
        }
        var share = await shares.OfAsync(candidate.OrgId, ct);
        if (share.MaxRunning <= 0)
        {
            return true;
        }
        var key = unchecked((int)(candidate.OrgId ^ (candidate.OrgId >> 32))); // a collision only serialises two organisations
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockClass}, {key})", ct);
        var running = await db.Set<JobAttempt>().AsNoTracking()
            .Where(a => a.Status == Status.Running && a.Run!.OrgId == candidate.OrgId)
            .Select(a => a.Id).ToListAsync(ct);
        if (running.Count < share.MaxRunning)
        {
            return true;
        }
        ready.Release(candidate);
        ready.SetShare(candidate.OrgId, share);
        foreach (var id in running)
        {
            ready.Remove(id);
            ready.Running(candidate.OrgId, id);
        }
        ready.Add(candidate);
        return false;
    }
}
