using System.Globalization;
using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>
/// Tells the other server nodes on the same PostgreSQL database that a run's attempts changed (queued, finished,
/// cancelled), so that their scheduler views follow at once rather than at the next rebuild
/// (<see cref="RunChangeListener"/> receives it). On SQLite, one node per database, there is no one to tell.
/// </summary>
internal static class RunChangeNotice
{
    public const string Channel = "buildserver_runs";

    /// <summary>Call inside the run's transaction: PostgreSQL delivers the notice when it commits, never if it rolls back.</summary>
    public static async Task SendAsync(BuildDb db, long runId, CancellationToken ct)
    {
        if (db is PostgresBuildDb)
        {
            var payload = runId.ToString(CultureInfo.InvariantCulture);
            await db.Database.ExecuteSqlAsync($"SELECT pg_notify({Channel}, {payload})", ct);
        }
    }
}
