namespace BuildServer.Modules.Persistence;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>The <c>Database</c> section of appsettings.json.</summary>
public sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>For SQLite, empty means <c>buildserver.db</c> in the data folder.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply pending migrations when the server starts (the <c>migrate</c> verb does it on demand).</summary>
    public bool MigrateOnStart { get; set; } = true;
}
