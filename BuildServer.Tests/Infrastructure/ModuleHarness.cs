using BuildServer.Modules.Agents;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// The server's modules composed in this process over a real, migrated database (SQLite in a temporary
/// folder, or a fresh PostgreSQL database), with no hosted service started: no built-in agent, so a test
/// plays the agent itself through the same contracts and controls exactly when each call happens.
/// </summary>
public sealed class ModuleHarness : IAsyncDisposable
{
    private readonly string _dataDir;
    private readonly bool _ownsData;

    private ModuleHarness(ServiceProvider services, Db db, string dataDir, string? connectionString, bool ownsData)
    {
        Services = services;
        Db = db;
        _dataDir = dataDir;
        ConnectionString = connectionString;
        _ownsData = ownsData;
    }

    public ServiceProvider Services { get; }
    public Db Db { get; }

    /// <summary>The PostgreSQL database's connection string; null for SQLite (the file is in the data folder).</summary>
    public string? ConnectionString { get; }

    /// <param name="services">Replaces services after the modules registered theirs, e.g. a fake <see cref="TimeProvider"/>.</param>
    public static async Task<ModuleHarness> StartAsync(Db db, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "bs-modules-" + Guid.NewGuid().ToString("N"));
        var connectionString = db == Db.Postgres ? await TestEnvironment.Postgres.CreateDatabaseAsync("bsmod") : null;
        return await StartAsync(db, dataDir, connectionString, settings, services, ownsData: true);
    }

    /// <summary>A second server node: its own services (its own in-memory scheduler view, write gate, caches)
    /// over this harness's database and data folder, as another server process on the same database would be.
    /// The first harness owns the data: dispose the nodes before it.</summary>
    public Task<ModuleHarness> StartNodeAsync(IDictionary<string, string?>? settings = null) =>
        StartAsync(Db, _dataDir, ConnectionString, settings, services: null, ownsData: false);

    private static async Task<ModuleHarness> StartAsync(Db db, string dataDir, string? connectionString, IDictionary<string, string?>? settings,
        Action<IServiceCollection>? services, bool ownsData)
    {
        var values = new Dictionary<string, string?> { ["DataDir"] = dataDir };
        if (db == Db.Postgres)
        {
            values["Database:Provider"] = "Postgres";
            values["Database:ConnectionString"] = connectionString;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var collection = new ServiceCollection().AddLogging(b => { if (Environment.GetEnvironmentVariable("HARNESS_SQL") == "1") { b.AddSimpleConsole(); b.AddFilter("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.Information); } }).AddBuildServerModules(configuration);
        services?.Invoke(collection);
        var provider = collection.BuildServiceProvider();
        await provider.GetRequiredService<DatabaseMigrator>().MigrateAsync(CancellationToken.None);
        return new ModuleHarness(provider, db, dataDir, connectionString, ownsData);
    }

    /// <summary>Runs <paramref name="action"/> with a fresh scope, as one request or one agent call would.</summary>
    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = Services.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    public async Task<ProjectInfo> CreateProjectAsync(string name, string organization = "default")
    {
        return await InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<BuildDb>();
            var org = db.Set<Organization>().FirstOrDefault(o => o.Name == organization)
                ?? db.Set<Organization>().Add(new Organization { Name = organization, CreatedAt = DateTimeOffset.UtcNow }).Entity;
            var project = db.Set<Project>().Add(new Project { Name = name, Organization = org, CreatedAt = DateTimeOffset.UtcNow }).Entity;
            await db.SaveChangesAsync();
            return new ProjectInfo(project.Id, name, organization, null, null, org.Id);
        });
    }

    public async Task<RunnerRef> CreateRunnerAsync(string name, params string[] labels)
    {
        return await InScopeAsync(async sp =>
        {
            var db = sp.GetRequiredService<BuildDb>();
            var runner = db.Set<Runner>().Add(new Runner { Name = name, Kind = "builtin", Labels = [.. labels], Slots = 1, CreatedAt = DateTimeOffset.UtcNow }).Entity;
            await db.SaveChangesAsync();
            return new RunnerRef(runner.Id, name, labels.ToHashSet());
        });
    }

    public async Task<RunView> TriggerAsync(ProjectInfo project, string yaml)
    {
        var result = await InScopeAsync(sp => sp.GetRequiredService<IRunTrigger>()
            .TriggerAsync(new TriggerRequest(project, yaml, "refs/heads/main", null, null, "test"), CancellationToken.None));
        Assert.That(result.Errors, Is.Empty);
        return result.Run!;
    }

    public Task<ClaimedAttempt?> ClaimAsync(RunnerRef runner) =>
        InScopeAsync(sp => sp.GetRequiredService<IAttemptLifecycle>().TryClaimAsync(runner, CancellationToken.None));

    public Task<bool> CompleteAsync(long attemptId, AttemptOutcome outcome) =>
        InScopeAsync(sp => sp.GetRequiredService<IAttemptLifecycle>().CompleteAttemptAsync(attemptId, outcome, null, CancellationToken.None));

    /// <summary>Rebuilds this node's scheduler view from the tables, as its periodic resync would.</summary>
    public Task ResyncAsync() =>
        InScopeAsync(async sp =>
        {
            await SchedulerFeed.ResyncAsync(sp.GetRequiredService<BuildDb>(), sp.GetRequiredService<IOrganizationShares>(),
                sp.GetRequiredService<BuildServer.Modules.Scheduling.ReadyAttempts>(), CancellationToken.None);
            return true;
        });

    public Task<bool> IsCancelRequestedAsync(long attemptId) =>
        InScopeAsync(sp => sp.GetRequiredService<IAttemptLifecycle>().IsCancelRequestedAsync(attemptId, CancellationToken.None));

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        if (_ownsData && Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
