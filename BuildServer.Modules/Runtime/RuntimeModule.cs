using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runtime.StepKinds;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Runtime;

internal sealed class RuntimeModule : IModule
{
    public string Name => "Runtime";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobRunnerOptions>()
            .Bind(configuration.GetSection("Runtime"))
            .PostConfigure<DataDirectory>((options, data) => options.ToolCache ??= data.Folder("tool-cache"));
        foreach (var kind in NotYetAvailableStepKind.Kinds)
        {
            services.AddSingleton<IStepKindHandler>(new NotYetAvailableStepKind(kind));
        }
        services.AddSingleton<IJobRunner, JobRunner>();
    }
}
