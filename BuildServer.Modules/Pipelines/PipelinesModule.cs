using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines.Workflow;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Pipelines;

internal sealed class PipelinesModule : IModule
{
    public string Name => "Pipelines";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        // Plugins add step kinds by registering StepKindClaim singletons; the registry takes them all.
        services.AddSingleton<IStepKindRegistry, StepKindRegistry>();
        services.AddSingleton<IWorkflowParser, WorkflowParser>();
    }
}
