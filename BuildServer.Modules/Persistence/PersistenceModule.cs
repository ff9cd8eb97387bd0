using BuildServer.Modules.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Persistence;

internal sealed class PersistenceModule : IModule
{
    public string Name => "Persistence";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        var options = ReadOptions(configuration);
        services.AddSingleton(options);
        switch (options.Provider)
        {
            case DatabaseProvider.Sqlite:
                var sqlite = SqliteConnectionString(options, DataDirectory.FromConfiguration(configuration));
                services.AddDbContextPool<BuildDb, SqliteBuildDb>(b => ConfigureSqlite(b, sqlite));
                break;
            case DatabaseProvider.Postgres:
                var pg = options.ConnectionString ?? throw new InvalidOperationException(
                    "Database:ConnectionString is required when Database:Provider is Postgres.");
                services.AddDbContextPool<BuildDb, PostgresBuildDb>(b => ConfigurePostgres(b, pg));
                break;
        }
        services.AddSingleton<WriteGate>();
        services.AddSingleton<DatabaseMigrator>();
        services.AddHostedService<MigrateOnStart>();
    }

    internal static DatabaseOptions ReadOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection("Database");
        var provider = section["Provider"]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "sqlite" => DatabaseProvider.Sqlite,
            "postgres" or "postgresql" or "npgsql" => DatabaseProvider.Postgres,
            var other => throw new InvalidOperationException(
                $"Database:Provider '{other}' is not supported; use 'Sqlite' or 'Postgres'."),
        };
        return new DatabaseOptions
        {
            Provider = provider,
            ConnectionString = section["ConnectionString"] is { Length: > 0 } cs ? cs : null,
            MigrateOnStart = !bool.TryParse(section["MigrateOnStart"], out var migrate) || migrate,
        };
    }

    internal static string SqliteConnectionString(DatabaseOptions options, DataDirectory data)
    {
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString ?? "")
        {
            Pooling = true,
        };
        if (string.IsNullOrEmpty(builder.DataSource))
        {
            builder.DataSource = data.Combine("buildserver.db");
        }
        return builder.ToString();
    }

    internal static void ConfigureSqlite(DbContextOptionsBuilder builder, string connectionString) =>
        builder.UseSqlite(connectionString, o => o.MigrationsHistoryTable("__ef_migrations"))
            .AddInterceptors(SqlitePragmas.Instance);

    internal static void ConfigurePostgres(DbContextOptionsBuilder builder, string connectionString) =>
        builder.UseNpgsql(connectionString, o => o.MigrationsHistoryTable("__ef_migrations"));
}
