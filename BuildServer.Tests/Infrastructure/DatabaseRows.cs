using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BuildServer.Tests.Infrastructure;

/// <summary>Reads (and, to set up what the API cannot create yet, writes) rows straight in the server's database:
/// to prove that a refused request stored nothing, or that a row differs from what the API shows.</summary>
public static class DatabaseRows
{
    public static async Task<long> CountAsync(ServerProcess server, string table, string? where = null)
    {
        await using var connection = await OpenAsync(server, readOnly: true);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}" + (where is null ? "" : " WHERE " + where);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Registers a runner the way a remote agent would have (there is no agent API yet), last seen at
    /// <paramref name="lastSeenAt"/> (null: never).</summary>
    public static async Task AddRunnerAsync(ServerProcess server, string name, string[] labels, DateTimeOffset? lastSeenAt)
    {
        await using var connection = await OpenAsync(server, readOnly: false);
        await using var command = connection.CreateCommand();
        command.CommandText = """INSERT INTO runners ("Name", "Kind", "Labels", "Slots", "CreatedAt", "LastSeenAt") VALUES (@name, 'remote', @labels, 1, @created, @seen)""";
        Add(command, "name", name);
        Add(command, "labels", server.Db == Db.Sqlite ? System.Text.Json.JsonSerializer.Serialize(labels) : labels);
        Add(command, "created", Stamp(server, DateTimeOffset.UtcNow.AddDays(-2)));
        Add(command, "seen", lastSeenAt is { } seen ? Stamp(server, seen) : DBNull.Value);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Makes a registration token expired (the API refuses to create one that already is).</summary>
    public static async Task ExpireRegistrationTokenAsync(ServerProcess server, long id, DateTimeOffset expiredAt)
    {
        await using var connection = await OpenAsync(server, readOnly: false);
        await using var command = connection.CreateCommand();
        command.CommandText = """UPDATE registration_tokens SET "ExpiresAt" = @at WHERE "Id" = @id""";
        Add(command, "at", Stamp(server, expiredAt));
        Add(command, "id", id);
        Assert.That(await command.ExecuteNonQueryAsync(), Is.EqualTo(1), $"registration token {id} exists");
    }

    /// <summary>Changes a user's role in an organisation, as an admin would while the user has a page open (there is no
    /// API for roles yet).</summary>
    public static async Task SetOrgRoleAsync(ServerProcess server, long userId, long orgId, string role)
    {
        await using var connection = await OpenAsync(server, readOnly: false);
        await using var command = connection.CreateCommand();
        command.CommandText = """UPDATE org_memberships SET "Role" = @role WHERE "UserId" = @user AND "OrgId" = @org""";
        Add(command, "role", role);
        Add(command, "user", userId);
        Add(command, "org", orgId);
        Assert.That(await command.ExecuteNonQueryAsync(), Is.EqualTo(1), $"user {userId} has a role in organisation {orgId}");
    }

    /// <summary>SQLite keeps EF Core's text form of a DateTimeOffset; PostgreSQL a timestamptz (UTC).</summary>
    private static object Stamp(ServerProcess server, DateTimeOffset at) =>
        server.Db == Db.Sqlite ? at.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", System.Globalization.CultureInfo.InvariantCulture) : at.ToUniversalTime();

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static async Task<DbConnection> OpenAsync(ServerProcess server, bool readOnly)
    {
        DbConnection connection = server.Db == Db.Sqlite
            ? new SqliteConnection($"Data Source={Path.Combine(server.DataDir, "buildserver.db")};Mode={(readOnly ? "ReadOnly" : "ReadWrite")};Pooling=False;Default Timeout=30")
            : new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
