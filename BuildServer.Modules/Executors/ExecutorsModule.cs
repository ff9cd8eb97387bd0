using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Executors;

internal sealed class ExecutorsModule : IModule
{
    public string Name => "Executors";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ShellExecutorOptions>(configuration.GetSection("Executors:Shell"));
        services.AddSingleton<IExecutor, ShellExecutor>();
    }
}
