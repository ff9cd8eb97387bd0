using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BuildServer.Tests.Infrastructure;

/// <summary>Counts rows straight from the server's database, to prove that a refused request stored nothing.</summary>
public static class DatabaseRows
{
    public static async Task<long> CountAsync(ServerProcess server, string table, string? where = null)
    {
        await using DbConnection connection = server.Db == Db.Sqlite
            ? new SqliteConnection($"Data Source={Path.Combine(server.DataDir, "buildserver.db")};Mode=ReadOnly;Pooling=False")
            : new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}" + (where is null ? "" : " WHERE " + where);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
