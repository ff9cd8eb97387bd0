using System.CommandLine;
using BuildServer.Modules.Persistence;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer;

internal static class MigrateCommand
{
    public static Command Create()
    {
        var dataDir = Verbs.DataDirOption();
        var command = new Command("migrate", "Apply pending database migrations and exit.") { dataDir };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var app = ServerHost.Build(Verbs.HostArgs(result, dataDir));
            try
            {
                var applied = await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(ct);
                Console.WriteLine(applied.Count == 0 ? "The database is up to date." : $"Applied {applied.Count} migration(s): {string.Join(", ", applied)}");
                return 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await Console.Error.WriteLineAsync("buildserver migrate: " + e.Message);
                return 1;
            }
        });
        return command;
    }
}
