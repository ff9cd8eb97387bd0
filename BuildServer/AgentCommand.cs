using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using BuildServer.Modules.Agents.Remote;
using BuildServer.Modules.Runtime;
using Serilog;
using Serilog.Extensions.Logging;

namespace BuildServer;

internal static class AgentCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "The server's address, e.g. https://build.example.com:8443.", Required = true };
        var token = new Option<string?>("--token") { Description = "A registration token (bsr_…); needed only for the first start." };
        var name = new Option<string?>("--name") { Description = "The agent's name (unique). Default: agent- and 8 random hex digits." };
        var labels = new Option<string?>("--labels") { Description = "Labels jobs select the agent by, comma separated. Default: self-hosted,linux,x64." };
        var slots = new Option<int>("--slots") { Description = "Jobs at once.", DefaultValueFactory = _ => 1 };
        var workDir = new Option<string>("--work-dir") { Description = "Credentials (0600), workspaces and undelivered results. Default: ./agent", DefaultValueFactory = _ => "agent" };
        var fingerprint = new Option<string?>("--ca-fingerprint") { Description = "Trust only the server certificate with this SHA-256 fingerprint (the server logs it at start)." };
        var caCert = new Option<string?>("--ca-cert") { Description = "Trust server certificates issued by this CA certificate (PEM or DER file)." };
        var insecure = new Option<bool>("--allow-insecure-http") { Description = "Allow a plain http:// server address that is not loopback." };
        var drainTimeout = new Option<int>("--drain-timeout") { Description = "Seconds running jobs may take after SIGTERM before they are stopped.", DefaultValueFactory = _ => 600 };
        var docker = new Option<string?>("--docker")
        {
            Description = "Run jobs with container: in this Docker engine (e.g. unix:///var/run/docker.sock); adds the label docker. " +
                          "Limits and network: Executors:Docker in docs/executors.md.",
        };
        var microVm = new Option<string?>("--microvm")
        {
            Description = "Run jobs with runs-on: microvm in a fresh QEMU microVM each, accelerated by auto, kvm or tcg; adds the label microvm. " +
                          "Memory, CPUs, root file system and network: Executors:MicroVm in docs/executors.md.",
        };
        var command = new Command("agent", "Run a remote agent: register with a server once, then take jobs from it over HTTPS. " +
                                           "SIGTERM drains (no new jobs, running ones finish); a second signal stops at once.")
        {
            server, token, name, labels, slots, workDir, fingerprint, caCert, insecure, drainTimeout, docker, microVm,
        };
        command.SetAction(async (result, ct) =>
        {
            var text = result.GetValue(server)!;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            {
                await Console.Error.WriteLineAsync($"buildserver agent: --server '{text}' must be an https:// (or http://) address.");
                return RemoteAgent.SetupFailed;
            }
            var count = result.GetValue(slots);
            if (count is < 1 or > 256)
            {
                await Console.Error.WriteLineAsync("buildserver agent: --slots must be 1 to 256.");
                return RemoteAgent.SetupFailed;
            }
            var labelList = (result.GetValue(labels) ?? "self-hosted,linux,x64").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Uri? dockerEndpoint = null;
            if (result.GetValue(docker) is { } endpoint)
            {
                if (!Uri.TryCreate(endpoint, UriKind.Absolute, out dockerEndpoint))
                {
                    await Console.Error.WriteLineAsync($"buildserver agent: --docker '{endpoint}' must be an address such as unix:///var/run/docker.sock.");
                    return RemoteAgent.SetupFailed;
                }
                labelList = [.. labelList.Append("docker").Distinct()];
            }
            var acceleration = result.GetValue(microVm);
            if (acceleration is not null)
            {
                if (acceleration is not ("auto" or "kvm" or "tcg"))
                {
                    await Console.Error.WriteLineAsync($"buildserver agent: --microvm '{acceleration}' must be auto, kvm or tcg.");
                    return RemoteAgent.SetupFailed;
                }
                labelList = [.. labelList.Append(JobRequirements.MicroVmLabel).Distinct()];
            }
            var options = new RemoteAgentOptions(url, result.GetValue(token), result.GetValue(name), labelList, count,
                Path.GetFullPath(result.GetValue(workDir)!), result.GetValue(fingerprint), result.GetValue(caCert), result.GetValue(insecure),
                TimeSpan.FromSeconds(Math.Max(0, result.GetValue(drainTimeout))))
            {
                DockerEndpoint = dockerEndpoint,
                MicroVmAcceleration = acceleration,
            };

            // First SIGTERM/SIGINT drains; a second one stops the running jobs at once (they are reported lost).
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var stop = new CancellationTokenSource();
            var signals = 0;
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                if (Interlocked.Increment(ref signals) == 1) drain.Cancel();
                else stop.Cancel();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

            await using var log = new LoggerConfiguration().MinimumLevel.Information()
                .WriteTo.Console(formatProvider: CultureInfo.InvariantCulture).CreateLogger();
            using var loggers = new SerilogLoggerFactory(log);
            return await RemoteAgent.RunAsync(options, loggers, Console.Error, drain.Token, stop.Token);
        });
        return command;
    }
}
