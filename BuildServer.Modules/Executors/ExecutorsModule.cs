using BuildServer.Modules.Executors.Docker;
using BuildServer.Modules.Executors.MicroVm;
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
        services.AddSingleton<ShellExecutor>();
        // The Docker executor exists only where its section is configured: an agent without an engine keeps
        // refusing container jobs with a reason instead of failing each one on a missing socket.
        var docker = configuration.GetSection(DockerExecutorOptions.Section);
        if (docker.Exists())
        {
            services.Configure<DockerExecutorOptions>(docker);
            services.AddSingleton<DockerExecutor>();
        }
        var microVm = configuration.GetSection(MicroVmExecutorOptions.Section);
        if (microVm.Exists())
        {
            services.Configure<MicroVmExecutorOptions>(microVm);
            services.AddSingleton<MicroVmExecutor>();
        }
        services.AddSingleton<IExecutor>(sp => new RoutingExecutor(sp.GetRequiredService<ShellExecutor>(), sp.GetService<DockerExecutor>(),
            sp.GetService<MicroVmExecutor>()));
    }
}
