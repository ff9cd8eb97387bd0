using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Runtime;

internal sealed class RuntimeModule : IModule
{
    public string Name => "Runtime";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
    }
}
