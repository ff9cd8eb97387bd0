using BuildServer.Modules.Hosting;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Persistence;

/// <summary>
/// The one database every module shares. Each module adds its own tables through
/// <see cref="IModule.ConfigureModel"/>; a module queries only its own entity types. The two provider
/// subclasses exist so that each provider keeps its own migrations (see docs/adr/0002).
/// </summary>
public abstract class BuildDb(DbContextOptions options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        foreach (var module in BuiltInModules.All)
        {
            module.ConfigureModel(modelBuilder);
        }
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Times are stored as UTC everywhere; SQLite has no native timestamp type, PostgreSQL uses timestamptz.
        configurationBuilder.Properties<string>().AreUnicode();
    }
}

public sealed class SqliteBuildDb(DbContextOptions<SqliteBuildDb> options) : BuildDb(options);

public sealed class PostgresBuildDb(DbContextOptions<PostgresBuildDb> options) : BuildDb(options);
