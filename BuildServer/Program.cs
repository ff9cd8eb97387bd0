using System.CommandLine;
using BuildServer;

// One binary, several verbs; `serve` is the default when no verb is given.
var root = new RootCommand("BuildServer: a self-hosted build server in one binary.")
{
    ServeCommand.Create(),
    MigrateCommand.Create(),
    ValidateCommand.Create(),
    RunCommand.Create(),
    AgentCommand.Create(),
};
// Termination signals are each verb's own business: `serve` stops gracefully through the host (its shutdown
// timeout, not System.CommandLine's 2 s), `run` cancels the job and still runs its always() steps.
return await root.Parse(Verbs.DefaultToServe(args, root)).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
