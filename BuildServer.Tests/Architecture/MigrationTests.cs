using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Tests.Architecture;

public sealed class MigrationTests
{
    [Test]
    public void SqliteMigrations_MatchTheModel()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);

        Assert.That(db.Database.HasPendingModelChanges(), Is.False, "run: dotnet ef migrations add <Name> --context SqliteBuildDb (see docs/adr/0002)");
    }

    [Test]
    public void PostgresMigrations_MatchTheModel()
    {
        using var db = new PostgresDesignTimeFactory().CreateDbContext([]);

        Assert.That(db.Database.HasPendingModelChanges(), Is.False, "run: dotnet ef migrations add <Name> --context PostgresBuildDb (see docs/adr/0002)");
    }
}
