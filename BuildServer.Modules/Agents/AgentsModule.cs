using BuildServer.Modules.Hosting;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Agents;

internal sealed class AgentsModule : IModule
{
    public string Name => "Agents";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BuiltInAgentOptions>(configuration.GetSection("Agent"));
        services.Configure<AgentsOptions>(configuration.GetSection("Agents"));
        services.AddScoped<IRunnerDirectory, RunnerDirectory>();
        services.AddSingleton<AttemptExecution>();
        services.AddHostedService<BuiltInAgent>();
    }

    public void ConfigureModel(ModelBuilder model) => Runner.Configure(model);
}
