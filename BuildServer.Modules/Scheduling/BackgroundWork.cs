using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security;
using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Scheduling;

/// <summary>The Hangfire queues: one per lane, in lane order, then one for the server's own housekeeping.</summary>
/// <remarks>Hangfire.PostgreSql hands out jobs ordered by queue name, and Hangfire.InMemory in the order the server
/// lists its queues; the digit prefix makes both the lane order. Queue names allow only a-z, 0-9, '-' and '_'.</remarks>
public static class BackgroundQueues
{
    public const string System = "system";

    public static string Of(Lane lane) => $"{(int)lane}-{lane.ToWire()}";

    /// <summary>"0-critical", "1-high", "2-normal", "3-low", "system": the order a worker takes jobs in.</summary>
    public static readonly string[] InOrder = [.. Lanes.All.Select(Of), System];
}

/// <summary>The <c>BackgroundWork</c> section: Hangfire, the engine for timed and background work (retries after
/// their backoff, the reconciler, housekeeping). See docs/adr/0006-hangfire-and-the-record.md.</summary>
public sealed class BackgroundWorkOptions
{
    /// <summary>Hangfire workers of this node.</summary>
    public int Workers { get; set; } = 4;

    /// <summary>How often due scheduled jobs (retries after their backoff) and recurring jobs are looked for: the
    /// resolution of a backoff delay. Hangfire's default is 15 s.</summary>
    public TimeSpan SchedulePolling { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a stopping node lets running background jobs finish.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

internal static class BackgroundWork
{
    /// <summary>Hangfire on the server's database: Hangfire.PostgreSql in the same PostgreSQL database (schema
    /// <c>hangfire</c>; several nodes then share it), or Hangfire.InMemory with SQLite, where the project's own
    /// tables are the record and what Hangfire holds is scheduled again from them at start.</summary>
    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BackgroundWorkOptions>(configuration.GetSection("BackgroundWork"));
        var database = configuration.GetSection("Database").Get<DatabaseOptions>() ?? new DatabaseOptions();
        services.AddHangfire(config =>
        {
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings();
            if (database.Provider == DatabaseProvider.Postgres)
            {
                config.UsePostgreSqlStorage(
                    o => o.UseNpgsqlConnection(database.ConnectionString),
                    new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = true, QueuePollInterval = TimeSpan.FromSeconds(1) });
            }
            else
            {
                config.UseInMemoryStorage(new InMemoryStorageOptions { IdType = InMemoryStorageIdType.Long });
            }
        });
        services.AddHangfireServer((sp, server) =>
        {
            var options = sp.GetRequiredService<IOptions<BackgroundWorkOptions>>().Value;
            server.Queues = BackgroundQueues.InOrder;
            server.WorkerCount = Math.Max(1, options.Workers);
            server.SchedulePollingInterval = options.SchedulePolling;
            server.ShutdownTimeout = options.ShutdownTimeout;
            server.ServerName = $"{Environment.MachineName}:{Environment.ProcessId}";
        });
    }

    /// <summary>The Hangfire dashboard at <c>/hangfire</c>, for administrators only (the endpoint's policy; Hangfire's
    /// own filter, local requests only, is replaced by it).</summary>
    public static void MapDashboard(IEndpointRouteBuilder endpoints) =>
        endpoints.MapHangfireDashboardWithNoAuthorizationFilters("/hangfire", new DashboardOptions
        {
            DashboardTitle = "BuildServer background work",
            DisplayStorageConnectionString = false,
            AppPath = "/",
        }).RequireAuthorization(p => p.RequireRole(Roles.Admin));
}
