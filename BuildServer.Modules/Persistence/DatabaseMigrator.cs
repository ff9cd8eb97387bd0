using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Persistence;

/// <summary>Applies the provider's pending migrations. Used at start and by the <c>migrate</c> verb.</summary>
public sealed class DatabaseMigrator(IServiceScopeFactory scopes, DatabaseOptions options, ILogger<DatabaseMigrator> logger)
{
    public async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
        await EnableWalAsync(db, cancellationToken);
        // Creating the history table first spares a fresh PostgreSQL database EF's failing (and logged as an
        // error) read of a history table that does not exist yet.
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Applying {Count} migration(s) to the {Provider} database: {Migrations}",
                pending.Count, options.Provider, string.Join(", ", pending));
            await db.Database.MigrateAsync(cancellationToken);
        }
        return pending;
    }

    /// <summary>WAL lets readers (the API, log followers) run beside the one writer; it is stored in the file.</summary>
    public async Task EnableWalAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await EnableWalAsync(scope.ServiceProvider.GetRequiredService<BuildDb>(), cancellationToken);
    }

    private async Task EnableWalAsync(BuildDb db, CancellationToken cancellationToken)
    {
        if (options.Provider == DatabaseProvider.Sqlite)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
    }
}

/// <summary>Runs first among the hosted services so that every later one finds the schema in place.</summary>
internal sealed class MigrateOnStart(DatabaseMigrator migrator, DatabaseOptions options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.MigrateOnStart)
        {
            await migrator.MigrateAsync(cancellationToken);
        }
        else
        {
            await migrator.EnableWalAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
