using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Scheduling;

/// <summary>For now: FIFO dispatch (the claim order lives in the run lifecycle) and the wake-up signal.
/// Lanes, quotas and fair share replace it in the scheduling issue.</summary>
internal sealed class SchedulingModule : IModule
{
    public string Name => "Scheduling";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<IDispatchSignal, DispatchSignal>();
}
