using System.CommandLine;
using System.Runtime.InteropServices;
using BuildServer.Modules.Runtime.Local;

namespace BuildServer;

internal static class RunCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The workflow file to run." };
        var job = new Option<string?>("--job") { Description = "Run only this job (and the jobs it needs)." };
        var matrix = new Option<string[]>("--matrix") { Description = "Run only matrix combinations with this value, as key=value (repeatable).", AllowMultipleArgumentsPerToken = false };
        var input = new Option<string[]>("--input") { Description = "A workflow_dispatch input, as name=value (repeatable)." };
        var secret = new Option<string[]>("--secret") { Description = "A secret, as NAME=value (repeatable); masked in the output." };
        var env = new Option<string[]>("--env") { Description = "An environment variable for every step, as NAME=value (repeatable)." };
        var workspace = new Option<string?>("--workspace") { Description = "The folder the steps run in. Default: the current directory." };
        var command = new Command("run", "Run a workflow on this machine with the server's engine and shell executor; no server or database needed. " +
                                         "Exit code 0 only if the run succeeded; Ctrl-C cancels.")
        {
            file, job, matrix, input, secret, env, workspace,
        };
        command.SetAction(async (result, ct) =>
        {
            var pairs = new Dictionary<string, Dictionary<string, string>>();
            var matrixFilter = new List<KeyValuePair<string, string>>();
            foreach (var (option, name) in new[] { (matrix, "--matrix"), (input, "--input"), (secret, "--secret"), (env, "--env") })
            {
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var item in result.GetValue(option) ?? [])
                {
                    var eq = item.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        await Console.Error.WriteLineAsync($"buildserver run: {name} '{item}' must be name=value.");
                        return 2;
                    }
                    if (option == matrix) matrixFilter.Add(KeyValuePair.Create(item[..eq], item[(eq + 1)..]));
                    else values[item[..eq]] = item[(eq + 1)..];
                }
                pairs[name] = values;
            }
            var folder = result.GetValue(workspace) ?? Directory.GetCurrentDirectory();
            if (!Directory.Exists(folder))
            {
                await Console.Error.WriteLineAsync($"buildserver run: the workspace '{folder}' does not exist.");
                return 2;
            }
            var options = new LocalRunOptions(result.GetValue(file)!, result.GetValue(job), matrixFilter,
                pairs["--input"], pairs["--secret"], pairs["--env"], Path.GetFullPath(folder));
            // Ctrl-C (SIGINT) or SIGTERM cancels the run: the running step's processes get SIGTERM, then SIGKILL
            // after the grace period, always() steps still run, and the exit code is 130. Further signals
            // change nothing; the process ends when the run has cleaned up.
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var signalled = 0;
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                if (Interlocked.Exchange(ref signalled, 1) == 0)
                {
                    Console.Error.WriteLine("buildserver run: cancelling; always() steps still run");
                    cancel.Cancel();
                }
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            return await LocalRun.RunAsync(options, Console.Out, cancel.Token);
        });
        return command;
    }
}
