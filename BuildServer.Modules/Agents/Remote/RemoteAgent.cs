using System.Net.Http.Json;
using System.Text.Json;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Agents.Worker;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Https;
using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Runtime;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents.Remote;

/// <param name="Token">A registration token (<c>bsr_…</c>): needed only until the agent is registered.</param>
/// <param name="WorkDir">The agent's folder: its credentials (0600), workspaces and outbox.</param>
/// <param name="DrainTimeout">After SIGTERM, how long running jobs may take before they are stopped (and reported lost).</param>
public sealed record RemoteAgentOptions(
    Uri Server,
    string? Token,
    string? Name,
    IReadOnlyList<string> Labels,
    int Slots,
    string WorkDir,
    string? CaFingerprint,
    string? CaCertificate,
    bool AllowInsecureHttp,
    TimeSpan DrainTimeout)
{
    /// <summary>The Docker engine jobs with <c>container:</c> run in; null for an agent without Docker.</summary>
    public Uri? DockerEndpoint { get; init; }

    /// <summary>Turns the microVM executor on with this accelerator (<c>auto</c>, <c>kvm</c>, <c>tcg</c>); null: off.</summary>
    public string? MicroVmAcceleration { get; init; }
}

/// <summary>
/// <c>buildserver agent</c>: registers with the server once (the credentials are kept in the work folder, 0600, and
/// reused on every later start), then runs the <see cref="AgentWorker"/> over HTTPS with the shell executor.
/// </summary>
public static class RemoteAgent
{
    public const int Stopped = 0;
    public const int SetupFailed = 2;
    public const int Incompatible = 3;
    private const string CredentialsFile = "agent.json";

    /// <summary>Runs until <paramref name="drain"/> (SIGTERM: no new work, running jobs finish within
    /// <see cref="RemoteAgentOptions.DrainTimeout"/>) or <paramref name="stop"/> (stop jobs now).</summary>
    public static async Task<int> RunAsync(RemoteAgentOptions options, ILoggerFactory loggers, TextWriter error, CancellationToken drain, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(error);
        var logger = loggers.CreateLogger("BuildServer.Agent");
        try
        {
            Directory.CreateDirectory(options.WorkDir);
            var saved = ReadCredentials(options.WorkDir);
            var pin = options.CaFingerprint ?? saved?.CaFingerprint;
            using var connection = new AgentConnection(options.Server, pin, options.CaCertificate, options.AllowInsecureHttp);
            if (saved is not null && !SameServer(saved.Server, options.Server))
            {
                throw new AgentSetupException($"{Path.Combine(options.WorkDir, CredentialsFile)} registers this agent with {saved.Server}, not {options.Server}: " +
                                              "use another --work-dir for another server.");
            }
            var compatible = await CheckServerAsync(connection, registered: saved is not null, logger, stop);
            if (compatible is { } incompatible)
            {
                await error.WriteLineAsync("buildserver agent: " + incompatible);
                return Incompatible;
            }
            var credentials = saved ?? await RegisterAsync(connection, options, pin, stop);
            if (saved is not null)
            {
                if (options.Token is not null) logger.LogInformation("Already registered as {Name} (agent {Id}); the registration token is not used", saved.Name, saved.AgentId);
                await DescribeSelfAsync(connection, credentials.Token, options, logger, stop);
            }
            await using var services = Services(options, credentials.Name, loggers);
            using var worker = new AgentWorker(new HttpAgentTransport(connection.Http, credentials.Token),
                services.GetRequiredService<IExecutor>(), services.GetRequiredService<IJobRunner>(),
                new AgentWorkerOptions(credentials.Name, options.Slots, Path.Combine(options.WorkDir, "outbox"), TimeSpan.FromSeconds(10)),
                TimeProvider.System, logger);
            logger.LogInformation("Agent {Name} (id {Id}) connected to {Server} with {Slots} slot(s)", credentials.Name, credentials.AgentId, options.Server, options.Slots);
            using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
            await using var afterDrain = drain.Register(() =>
            {
                logger.LogInformation("Draining: no new jobs; running jobs have {Timeout} to finish", options.DrainTimeout);
                hardStop.CancelAfter(options.DrainTimeout);
            });
            await worker.RunAsync(drain, hardStop.Token);
            if (worker.FatalError is { } fatal)
            {
                await error.WriteLineAsync("buildserver agent: " + fatal);
                return Incompatible;
            }
            logger.LogInformation("Agent {Name} stopped", credentials.Name);
            return Stopped;
        }
        catch (AgentSetupException e)
        {
            await error.WriteLineAsync("buildserver agent: " + e.Message);
            return SetupFailed;
        }
    }

    /// <summary>The server's agent protocol must be ours; null when it is (or, for a registered agent, when the
    /// server cannot be reached now: the worker retries). A refused certificate always stops the start.</summary>
    private static async Task<string?> CheckServerAsync(AgentConnection connection, bool registered, ILogger logger, CancellationToken ct)
    {
        ServerInfoResponse? info;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            info = await connection.Http.GetFromJsonAsync<ServerInfoResponse>("api/v1/server/info", JsonDefaults.Options, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException && !ct.IsCancellationRequested)
        {
            if (connection.RefusedFingerprint is { } seen)
            {
                throw new AgentSetupException($"the server's certificate has the fingerprint {seen}, not the pinned one: refusing to connect " +
                                              "(check --ca-fingerprint against the fingerprint in the server's log).");
            }
            if (AgentRequests.Innermost(e) is System.Security.Authentication.AuthenticationException tls)
            {
                throw new AgentSetupException($"the server's certificate is not trusted ({tls.Message}): pin it with --ca-fingerprint or name its CA with --ca-cert.");
            }
            if (!registered) throw new AgentSetupException($"{connection.Http.BaseAddress} cannot be reached to register: {e.Message}");
            logger.LogWarning("The server cannot be reached now ({Error}); the agent starts anyway and retries", e.Message);
            return null;
        }
        if (info is null || info.AgentProtocol == AgentWire.ProtocolVersion) return null;
        return $"the server (BuildServer {info.Version}) speaks agent protocol {info.AgentProtocol}, this agent (BuildServer {AgentWire.Version}) " +
               $"speaks {AgentWire.ProtocolVersion}: install BuildServer {info.Version} on the agent.";
    }

    /// <summary>A restart may bring other labels, slots or a new version: the server learns them before any work is taken.</summary>
    private static async Task DescribeSelfAsync(AgentConnection connection, string token, RemoteAgentOptions options, ILogger logger, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "api/v1/agent/self")
        {
            Content = JsonContent.Create(new RegisterAgentRequest(null, [.. options.Labels], options.Slots, AgentWire.Version), options: JsonDefaults.Options),
        };
        AgentRequests.Sign(request, token);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            using var response = await connection.Http.SendAsync(request, timeout.Token);
            if (response.StatusCode == System.Net.HttpStatusCode.BadRequest)
            {
                throw new AgentSetupException("the server refuses these settings: " + (await AgentRequests.ReadProblemAsync(response, ct)).Detail);
            }
            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("Labels, slots and version could not be updated on the server ({Status}); it keeps the registered ones", (int)response.StatusCode);
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("Labels, slots and version could not be updated on the server ({Error}); it keeps the registered ones", e.Message);
        }
    }

    private static async Task<SavedCredentials> RegisterAsync(AgentConnection connection, RemoteAgentOptions options, string? pin, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(options.Token))
        {
            throw new AgentSetupException($"this agent is not registered yet (no {CredentialsFile} in {options.WorkDir}): pass --token with a registration token.");
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/agents/register")
        {
            Content = JsonContent.Create(new RegisterAgentRequest(options.Name, [.. options.Labels], options.Slots, AgentWire.Version), options: JsonDefaults.Options),
        };
        AgentRequests.Sign(request, options.Token);
        using var response = await connection.Http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new AgentSetupException($"registration refused ({(int)response.StatusCode}): {(await AgentRequests.ReadProblemAsync(response, ct)).Detail}");
        }
        var registered = (await response.Content.ReadFromJsonAsync<RegisterAgentResponse>(JsonDefaults.Options, ct))!;
        var credentials = new SavedCredentials(options.Server.ToString(), registered.AgentId, registered.Name, registered.AgentToken, pin);
        WriteCredentials(options.WorkDir, credentials);
        return credentials;
    }

    private static bool SameServer(string saved, Uri server) =>
        string.Equals(saved.TrimEnd('/'), server.ToString().TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    private static SavedCredentials? ReadCredentials(string workDir)
    {
        var path = Path.Combine(workDir, CredentialsFile);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<SavedCredentials>(File.ReadAllText(path), JsonDefaults.Options)
                   ?? throw new AgentSetupException($"{path} is empty: remove it to register again.");
        }
        catch (JsonException e)
        {
            throw new AgentSetupException($"{path} cannot be read ({e.Message}): remove it to register again.");
        }
    }

    /// <summary>Written to a temporary file created 0600, then renamed over: never readable by others, never half-written.</summary>
    private static void WriteCredentials(string workDir, SavedCredentials credentials)
    {
        var path = Path.Combine(workDir, CredentialsFile);
        var temporary = path + ".tmp";
        var open = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) open.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(temporary, open))
        {
            JsonSerializer.Serialize(file, credentials, JsonDefaults.Options);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The job runner's services; <c>runner.name</c> and <c>RUNNER_NAME</c> are the agent's name (not the machine's).</summary>
    private static ServiceProvider Services(RemoteAgentOptions options, string name, ILoggerFactory loggers)
    {
        var workDir = options.WorkDir;
        var settings = new Dictionary<string, string?>
        {
            ["DataDir"] = workDir,
            ["Runtime:RunnerName"] = name,
        };
        if (options.DockerEndpoint is { } dockerEndpoint) settings["Executors:Docker:Endpoint"] = dockerEndpoint.ToString();
        if (options.MicroVmAcceleration is { } acceleration) settings["Executors:MicroVm:Acceleration"] = acceleration;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton(new DataDirectory(workDir));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(loggers);
        services.AddLogging();
        new PipelinesModule().ConfigureServices(services, configuration);
        new ExecutorsModule().ConfigureServices(services, configuration);
        new RuntimeModule().ConfigureServices(services, configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>The agent's credentials in its work folder: which server, who it is there, and the pin it trusts.</summary>
    private sealed record SavedCredentials(string Server, long AgentId, string Name, string Token, string? CaFingerprint);
}
