using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Scheduling;

/// <summary>The lanes, quotas and fair share (<see cref="ReadyAttempts"/>), the wake-up signal for idle agents, the scheduler metrics, and Hangfire (background and timed work, its dashboard).</summary>
internal sealed class SchedulingModule : IModule
{
    public string Name => "Scheduling";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SchedulerOptions>(configuration.GetSection("Scheduling"));
        services.AddSingleton<IDispatchSignal, DispatchSignal>();
        services.AddSingleton<ReadyAttempts>();
        BackgroundWork.Add(services, configuration);
        services.AddMetrics();
        services.AddSingleton<SchedulerMetrics>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => BackgroundWork.MapDashboard(endpoints);

    public IEnumerable<NavEntry> Navigation => [new("Hangfire", "hangfire", MudBlazor.Icons.Material.Filled.ManageHistory, 99, ServerAdminOnly: true)];
}
