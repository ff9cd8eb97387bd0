using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// A real <c>buildserver agent</c> process on 127.0.0.1, talking to a <see cref="ServerProcess"/> over HTTPS with the
/// server's certificate pinned. It keeps its work folder across restarts (credentials, outbox, workspaces), so it can be
/// killed with SIGKILL, stopped with SIGTERM and started again as the same agent.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly ServerProcess _server;
    private readonly string[] _extraArgs;
    private Process? _process;

    private AgentProcess(ServerProcess server, string name, string labels, string registrationToken, string fingerprint, string[] extraArgs)
    {
        _server = server;
        Name = name;
        Labels = labels;
        RegistrationToken = registrationToken;
        Fingerprint = fingerprint;
        _extraArgs = extraArgs;
        WorkDir = Directory.CreateTempSubdirectory("buildserver-agent-").FullName;
    }

    public string Name { get; }
    public string Labels { get; }
    public string RegistrationToken { get; }
    /// <summary>What <c>--ca-fingerprint</c> pins (the server's own, unless a test gave another).</summary>
    public string Fingerprint { get; }
    public string WorkDir { get; }
    public int Pid => _process?.Id ?? 0;
    public bool HasExited => _process is null || _process.HasExited;
    public int ExitCode => _process!.ExitCode;
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>The agent id the server gave it, from its credentials file (<c>agent.json</c>).</summary>
    public long AgentId => JsonNode.Parse(File.ReadAllText(Path.Combine(WorkDir, "agent.json")))!["agentId"]!.GetValue<long>();

    /// <summary>
    /// Starts an agent and, unless <paramref name="waitUntilConnected"/> is false, waits until it says it is connected.
    /// Without <paramref name="registrationToken"/> it creates a one-time one through the admin API; without
    /// <paramref name="fingerprint"/> it pins the one <c>/api/v1/server/info</c> shows.
    /// </summary>
    public static async Task<AgentProcess> StartAsync(ServerProcess server, string name, string labels, string? registrationToken = null,
        string? fingerprint = null, bool waitUntilConnected = true, params string[] extraArgs)
    {
        ArgumentNullException.ThrowIfNull(server);
        using var admin = server.Client();
        registrationToken ??= (await ApiClient.ExpectAsync(await admin.Http.PostAsJsonAsync("agents/registration-tokens", new { }), HttpStatusCode.Created))
            ["token"]!.GetValue<string>();
        fingerprint ??= await ServerFingerprintAsync(server);
        var agent = new AgentProcess(server, name, labels, registrationToken, fingerprint, extraArgs);
        await agent.StartAsync(withToken: true, waitUntilConnected);
        return agent;
    }

    /// <summary>The SHA-256 fingerprint of the server's certificate, as it tells anyone (anonymous).</summary>
    public static async Task<string> ServerFingerprintAsync(ServerProcess server)
    {
        ArgumentNullException.ThrowIfNull(server);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var info = await ApiClient.ExpectAsync(await http.GetAsync("api/v1/server/info"), HttpStatusCode.OK);
        return info["certificateFingerprint"]!.GetValue<string>();
    }

    /// <summary>(Re)starts the process on the same work folder. <paramref name="withToken"/> false leaves out
    /// <c>--token</c> and <c>--ca-fingerprint</c>: the agent must use its saved credentials and pin.</summary>
    public async Task StartAsync(bool withToken = true, bool waitUntilConnected = true)
    {
        if (_process is { HasExited: false }) throw new InvalidOperationException($"Agent {Name} is still running (pid {_process.Id}).");
        _process?.Dispose();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = WorkDir,
        };
        string[] args =
        [
            Repository.ServerDll, "agent", "--server", _server.HttpsAddress.ToString().TrimEnd('/'), "--name", Name, "--labels", Labels,
            "--work-dir", WorkDir,
            .. withToken ? new[] { "--token", RegistrationToken, "--ca-fingerprint", Fingerprint } : [],
            .. _extraArgs,
        ];
        foreach (var a in args) info.ArgumentList.Add(a);
        int connectedBefore;
        lock (_output)
        {
            connectedBefore = Connections(_output.ToString());
            _output.AppendLine($"--- started: {string.Join(' ', args.Skip(1))}");
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        if (!waitUntilConnected) return;
        await Eventually.Until(() =>
        {
            if (process.HasExited)
            {
                Assert.Fail($"Agent {Name} exited with {process.ExitCode} while starting:\n{Output}");
            }
            return Connections(Output) > connectedBefore;
        }, TimeSpan.FromSeconds(60), $"agent {Name} to connect");
    }

    private static int Connections(string output)
    {
        var count = 0;
        for (var at = output.IndexOf(") connected to ", StringComparison.Ordinal); at >= 0; at = output.IndexOf(") connected to ", at + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        var process = _process ?? throw new InvalidOperationException($"Agent {Name} was never started.");
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Agent {Name} did not exit within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s:\n{Output}");
        }
        return process.ExitCode;
    }

    /// <summary>SIGKILL: no chance to report or clean up, as in a crash of the agent's machine.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: false);
            await p.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM (the agent drains: running jobs finish) and wait for its exit; its exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        Terminate();
        return await WaitForExitAsync(timeout);
    }

    /// <summary>Sends SIGTERM without waiting.</summary>
    public void Terminate()
    {
        if (_process is { HasExited: false } p) Processes.Signal(p.Id, Processes.SigTerm);
    }

    /// <summary>Stops (a second SIGTERM stops running jobs at once), kills if that does not work, and removes the work folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } p)
        {
            // The first signal drains; the second (once the first is surely handled) stops the running jobs.
            Processes.Signal(p.Id, Processes.SigTerm);
            if (!await ExitsWithinAsync(p, TimeSpan.FromSeconds(2)))
            {
                Processes.Signal(p.Id, Processes.SigTerm);
                if (!await ExitsWithinAsync(p, TimeSpan.FromSeconds(30))) await KillAsync();
            }
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
            // A step's process may still be writing into its workspace for a moment; the temp folder is swept anyway.
        }
    }

    private static async Task<bool> ExitsWithinAsync(Process process, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
