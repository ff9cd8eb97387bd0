using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace BuildServer.Modules.Persistence;

/// <summary>
/// Per-connection SQLite settings, applied once per physical connection (pooled connections are reopened
/// for every EF operation; re-running the pragmas each time cost several statements per query).
/// synchronous=NORMAL in WAL mode is durable across a process crash (kill -9), losing at most the last
/// transactions on power loss; foreign_keys is off by default in SQLite and must be asked for. WAL itself is
/// a property of the database file, set once at start (<see cref="DatabaseMigrator"/>). temp_store=MEMORY keeps
/// statement journals and sorts off disk (SQLite otherwise creates and deletes a file in /var/tmp for them, once per job).
/// </summary>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();

    private const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY;";
    private static readonly ConditionalWeakTable<object, object> Applied = [];

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (IsNew(connection))
        {
            using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            command.ExecuteNonQuery();
        }
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (IsNew(connection))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>True the first time this physical connection (its native handle) is seen.</summary>
    private static bool IsNew(DbConnection connection) =>
        connection is SqliteConnection { Handle: { } handle } && Applied.TryAdd(handle, handle);
}
