using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Runs.Ui;
using BuildServer.Modules.Runs.Ui.Log;
using BuildServer.Modules.Runs.Waiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Runs;

internal sealed class RunsModule : IModule
{
    public string Name => "Runs";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RunsOptions>(configuration.GetSection("Runs"));
        services.AddScoped<AttemptLifecycle>();
        services.AddScoped<OrgQuotaCheck>();
        services.AddScoped<IAttemptLifecycle>(sp => sp.GetRequiredService<AttemptLifecycle>());
        services.AddScoped<IRunnerAttempts, RunnerAttempts>();
        services.AddScoped<IRunningAttempts, RunningAttempts>();
        services.AddSingleton<LeaseGrace>();
        services.AddScoped<IRunTrigger, TriggerRun>();
        services.AddScoped<CancelRun>();
        services.AddScoped<RerunRun>();
        services.AddScoped<RerunFailedJobs>();
        services.AddSingleton<RunUpdates>();
        services.AddScoped<RetryAdmission>();
        services.AddScoped<Reconciler>();
        services.AddScoped<RunViews>();
        services.AddScoped<RunBoard>();
        services.AddScoped<Ui.Projects.ProjectActivity>();
        services.AddScoped<Ui.Projects.TriggerFromUi>();
        services.AddScoped<RunPageQuery>();
        services.AddScoped<WaitReasons>();
        services.AddSingleton<IAttemptCancellation, AttemptCancellation>();
        services.AddSingleton<LogGrowth>();
        services.AddSingleton<ILogStore, FileLogStore>();
        services.AddSingleton<LogIndexes>();
        services.AddScoped<JobLogReads>();
        services.Configure<SchedulerSyncOptions>(configuration.GetSection("Scheduling"));
        services.AddHostedService<SchedulerFeedService>();
        services.AddHostedService<BackgroundSchedule>();
        services.AddHostedService<RunChangeListener>();
    }

    public void ConfigureModel(ModelBuilder model) => RunsModel.Configure(model);

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        RunsEndpoints.Map(endpoints);
        WaitingEndpoints.Map(endpoints);
        CancelFromUi.Map(endpoints);
        RunActionsFromUi.Map(endpoints);
        RawLog.Map(endpoints);
    }

    public IEnumerable<NavEntry> Navigation =>
    [
        new("Dashboard", "", MudBlazor.Icons.Material.Filled.Dashboard, 0),
        new("Queue", "queue", MudBlazor.Icons.Material.Filled.HourglassEmpty, 20),
    ];
}
