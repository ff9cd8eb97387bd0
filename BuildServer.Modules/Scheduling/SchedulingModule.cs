using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Scheduling;

/// <summary>The lanes, quotas and fair share (<see cref="ReadyAttempts"/>), the wake-up signal for idle agents, and the scheduler metrics.</summary>
internal sealed class SchedulingModule : IModule
{
    public string Name => "Scheduling";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SchedulerOptions>(configuration.GetSection("Scheduling"));
        services.AddSingleton<IDispatchSignal, DispatchSignal>();
        services.AddSingleton<ReadyAttempts>();
        services.AddMetrics();
        services.AddSingleton<SchedulerMetrics>();
    }
}
