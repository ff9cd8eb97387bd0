using System.CommandLine;

namespace BuildServer;

internal static class ServeCommand
{
    public static Command Create()
    {
        var dataDir = Verbs.DataDirOption();
        var command = new Command("serve", "Run the server with its built-in agent (the default verb). " +
                                           "ASP.NET Core switches pass through, e.g. --urls http://127.0.0.1:9000 --Database:Provider=Postgres.")
        {
            dataDir,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var app = ServerHost.Build(Verbs.HostArgs(result, dataDir));
                await app.RunAsync(ct);
                return 0;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                // Configuration and start-up problems: one readable line, not a stack trace.
                await Console.Error.WriteLineAsync("buildserver serve: " + e.Message);
                return 1;
            }
        });
        return command;
    }
}
