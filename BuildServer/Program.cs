using System.CommandLine;
using BuildServer;

// One binary, several verbs; `serve` is the default when no verb is given.
var root = new RootCommand("BuildServer: a self-hosted build server in one binary.")
{
    ServeCommand.Create(),
    MigrateCommand.Create(),
    ValidateCommand.Create(),
    RunCommand.Create(),
};
return await root.Parse(Verbs.DefaultToServe(args, root)).InvokeAsync();
