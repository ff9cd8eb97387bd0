using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace BuildServer.Modules.Persistence;

// Used only by `dotnet ef migrations add`; the connection strings are never opened.
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteBuildDb>
{
    public SqliteBuildDb CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<SqliteBuildDb>();
        PersistenceModule.ConfigureSqlite(builder, "Data Source=design.db");
        return new SqliteBuildDb(builder.Options);
    }
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresBuildDb>
{
    public PostgresBuildDb CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<PostgresBuildDb>();
        PersistenceModule.ConfigurePostgres(builder, "Host=127.0.0.1;Database=design");
        return new PostgresBuildDb(builder.Options);
    }
}
