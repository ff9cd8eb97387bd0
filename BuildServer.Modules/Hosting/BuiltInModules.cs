using BuildServer.Modules.Agents;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Https;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runtime;
using BuildServer.Modules.Scheduling;
using BuildServer.Modules.Security;
using BuildServer.Modules.Web;

namespace BuildServer.Modules.Hosting;

/// <summary>The one place the built-in modules are listed. Only plugins are discovered by scanning.</summary>
public static class BuiltInModules
{
    public static IReadOnlyList<IModule> All { get; } =
    [
        new HttpsModule(),
        new PersistenceModule(),
        new SecurityModule(),
        new WebModule(),
        new ProjectsModule(),
        new PipelinesModule(),
        new RunsModule(),
        new SchedulingModule(),
        new ExecutorsModule(),
        new RuntimeModule(),
        new AgentsModule(),
    ];
}
