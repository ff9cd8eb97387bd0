using System.Diagnostics;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Cli;

public sealed class CliTests
{
    [Test]
    public async Task Version_PrintsTheVersion()
    {
        var (code, output) = await RunAsync("--version");

        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Match(@"^\d+\.\d+\.\d+"));
    }

    [Test]
    public async Task Help_ListsTheVerbs()
    {
        var (code, output) = await RunAsync("--help");

        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("serve").And.Contain("migrate"));
    }

    [Test]
    public async Task Migrate_NewSqliteDataDir_CreatesTheDatabaseAndExits0()
    {
        var dir = Directory.CreateTempSubdirectory("buildserver-migrate-").FullName;
        try
        {
            var (code, output) = await RunAsync("migrate", "--data-dir", dir);
            var (again, secondOutput) = await RunAsync("migrate", "--data-dir", dir);

            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Contain("Applied"));
            Assert.That(File.Exists(Path.Combine(dir, "buildserver.db")));
            Assert.That(again, Is.Zero);
            Assert.That(secondOutput, Does.Contain("up to date"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Migrate_Postgres_CreatesTheSchema()
    {
        var connection = await TestEnvironment.Postgres.CreateDatabaseAsync("migrate");

        var (code, output) = await RunAsync("migrate", "--Database:Provider=Postgres", "--Database:ConnectionString=" + connection);

        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("Applied"));
        Assert.That(output, Does.Not.Contain(" ERR]"), "a fresh database migrates without error lines in the log");
    }

    [Test]
    public async Task Migrate_UnreachableDatabase_FailsWithOneReadableLine()
    {
        var (code, output) = await RunAsync("migrate", "--Database:Provider=Postgres", "--Database:ConnectionString=Host=127.0.0.1;Port=1;Username=x;Timeout=2");

        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Does.Contain("buildserver migrate:"));
    }

    [Test]
    public async Task Serve_UnknownProvider_ExitsNonZeroNamingTheSetting()
    {
        var (code, output) = await RunAsync("serve", "--data-dir", Path.GetTempPath(), "--Database:Provider=Oracle", "--urls", "http://127.0.0.1:0", "--Https:Url=off");

        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Does.Contain("Database:Provider"));
    }

    private static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Repository.ServerDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
