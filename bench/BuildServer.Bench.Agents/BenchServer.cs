using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>
/// A real server process (<c>dotnet buildserver.dll serve</c>, the private copy of the Release build named by
/// <c>BENCH_SERVER_DLL</c>) on 127.0.0.1: plain HTTP for the admin API on one free port, HTTPS (its self-signed
/// certificate) on another. Stopped by its PID (SIGTERM, SIGKILL after 20 s); its temp data folder is removed.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<Process> _agents = [];

    private BenchServer(Process process, string dataDir, string dll, int httpPort, int httpsPort)
    {
        _process = process;
        DataDir = dataDir;
        Dll = dll;
        HttpUrl = $"http://127.0.0.1:{httpPort}";
        HttpsUrl = $"https://127.0.0.1:{httpsPort}";
    }

    public string DataDir { get; }

    public string Dll { get; }

    public string HttpUrl { get; }

    public string HttpsUrl { get; }

    public int Pid => _process.Id;

    /// <summary>The admin API over plain HTTP on loopback, with the initial admin token.</summary>
    public HttpClient Admin { get; private set; } = null!;

    public string Fingerprint { get; private set; } = "";

    public string AdminToken { get; private set; } = "";

    public string Version { get; private set; } = "";

    public static string ServerDll() =>
        Environment.GetEnvironmentVariable("BENCH_SERVER_DLL") is { Length: > 0 } d && File.Exists(d)
            ? d : throw new InvalidOperationException("BENCH_SERVER_DLL must name the server's buildserver.dll");

    public static async Task<BenchServer> StartAsync(string name, IEnumerable<string> settings, CancellationToken ct)
    {
        var dll = ServerDll();
        var dataDir = Directory.CreateTempSubdirectory($"bsagents-{name}-").FullName;
        var (httpPort, httpsPort) = (FreePort(), FreePort());
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dataDir };
        foreach (var a in new[] { dll, "serve", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{httpPort}",
                     $"--Https:Url=https://127.0.0.1:{httpsPort}", "--Serilog:MinimumLevel:Default=Warning" }.Concat(settings))
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = Process.Start(info)!;
        Pipe(process, Path.Combine(dataDir, "server.log"));
        var server = new BenchServer(process, dataDir, dll, httpPort, httpsPort);
        Log.Info($"{name}: server pid {process.Id}, {server.HttpUrl}, {server.HttpsUrl}");
        await server.ConnectAsync(ct);
        return server;
    }

    private async Task ConnectAsync(CancellationToken ct)
    {
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(HttpUrl) };
        var deadline = DateTimeOffset.UtcNow.AddSeconds(90);
        var tokenFile = Path.Combine(DataDir, "initial-admin-token");
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the server exited with {_process.ExitCode}; see its log");
            try
            {
                using var health = await http.GetAsync("/healthz", ct);
                if (health.StatusCode == HttpStatusCode.OK && File.Exists(tokenFile)) break;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException("the server did not become ready in 90 s");
            await Task.Delay(100, ct);
        }
        AdminToken = (await File.ReadAllTextAsync(tokenFile, ct)).Trim();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
        Admin = http;
        var info = (await http.GetFromJsonAsync<JsonObject>("/api/v1/server/info", ct))!;
        Version = info["version"]?.GetValue<string>() ?? "";
        Fingerprint = info["certificateFingerprint"]?.GetValue<string>() ?? throw new InvalidOperationException("the server has no HTTPS certificate");
    }

    /// <summary>
    /// A handler for the HTTPS endpoint that trusts exactly the server's certificate by its SHA-256 fingerprint (as
    /// <c>buildserver agent --ca-fingerprint</c> does), with as many connections as callers need.
    /// </summary>
    public SocketsHttpHandler PinnedHandler(bool http2 = false) => new()
    {
        UseProxy = false,
        MaxConnectionsPerServer = int.MaxValue,
        EnableMultipleHttp2Connections = http2,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && Normalize(string.Join(':', Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256))))
                    == Normalize(Fingerprint),
        },
    };

    private static string Normalize(string fingerprint) => new([.. fingerprint.Where(Uri.IsHexDigit).Select(char.ToUpperInvariant)]);

    public async Task<string> RegistrationTokenAsync(CancellationToken ct)
    {
        using var response = await Admin.PostAsJsonAsync("/api/v1/agents/registration-tokens", new { reusable = true }, ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!["token"]!.GetValue<string>();
    }

    /// <summary>Starts <c>buildserver agent</c> (the same build) against the HTTPS endpoint with the pinned fingerprint.</summary>
    public Process StartAgent(string name, string labels, int slots, string registrationToken)
    {
        var workDir = Path.Combine(DataDir, "agent-" + name);
        Directory.CreateDirectory(workDir);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        foreach (var a in new[] { Dll, "agent", "--server", HttpsUrl, "--token", registrationToken, "--name", name, "--labels", labels,
                     "--slots", slots.ToString(CultureInfo.InvariantCulture), "--work-dir", workDir, "--ca-fingerprint", Fingerprint })
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = Process.Start(info)!;
        Pipe(process, Path.Combine(DataDir, $"agent-{name}.log"));
        _agents.Add(process);
        Log.Info($"agent {name}: pid {process.Id}");
        return process;
    }

    /// <summary>Waits until an agent of that name is listed and was seen (it registered and called in).</summary>
    public async Task WaitForAgentAsync(string name, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (DateTimeOffset.UtcNow < deadline)
        {
            var list = await Admin.GetFromJsonAsync<JsonNode>("/api/v1/agents", ct);
            var items = list is JsonArray a ? a : list?["items"]?.AsArray();
            if (items?.Any(x => x?["name"]?.GetValue<string>() == name) == true) return;
            await Task.Delay(200, ct);
        }
        throw new TimeoutException($"agent {name} did not register in 60 s");
    }

    public double CpuSeconds() => MachineLoad.ProcessCpuSeconds(Pid.ToString(CultureInfo.InvariantCulture), children: true);

    public double AgentsCpuSeconds() =>
        _agents.Sum(a => MachineLoad.ProcessCpuSeconds(a.Id.ToString(CultureInfo.InvariantCulture), children: true));

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents) Stop(agent);
        Stop(_process);
        Admin?.Dispose();
        await Task.Delay(100);
        if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(DataDir, recursive: true);
        else Log.Info($"kept {DataDir}");
    }

    /// <summary>SIGTERM by PID, SIGKILL after 20 s.</summary>
    private static void Stop(Process process)
    {
        if (process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    private static void Pipe(Process process, string path)
    {
        var log = new StreamWriter(path) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (log) if (e.Data is not null) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) if (e.Data is not null) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
