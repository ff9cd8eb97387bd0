using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;
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
        services.AddScoped<IRunTrigger, TriggerRun>();
        services.AddScoped<CancelRun>();
        services.AddScoped<RunViews>();
        services.AddSingleton<IAttemptCancellation, AttemptCancellation>();
        services.AddSingleton<ILogStore, FileLogStore>();
        services.Configure<SchedulerSyncOptions>(configuration.GetSection("Scheduling"));
        services.AddHostedService<SchedulerFeedService>();
        services.AddHostedService<RunChangeListener>();
    }

    public void ConfigureModel(ModelBuilder model) => RunsModel.Configure(model);

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => RunsEndpoints.Map(endpoints);
}
