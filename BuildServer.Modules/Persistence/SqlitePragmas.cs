using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace BuildServer.Modules.Persistence;

/// <summary>
/// Per-connection SQLite settings. WAL lets readers (the API, log followers) run beside the one writer;
/// synchronous=NORMAL in WAL mode is durable across a process crash (kill -9), losing at most the last
/// transactions on power loss. foreign_keys is off by default in SQLite and must be asked for.
/// </summary>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();

    private const string Pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Apply(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }
}
