using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

using BuildServer.Tests;

namespace BuildServer.Tests.Infrastructure;

public enum Db
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The real server binary as a process on 127.0.0.1 with its own data folder (and, for PostgreSQL, its own
/// database). It can be stopped gracefully, killed with SIGKILL, and started again on the same data.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string[] _extraArgs;
    private Process? _process;

    private readonly string _listenHost;

    private ServerProcess(Db db, string dataDir, string? connectionString, string[] extraArgs, string listenHost)
    {
        Db = db;
        DataDir = dataDir;
        ConnectionString = connectionString;
        _extraArgs = extraArgs;
        _listenHost = listenHost;
        Port = Ports.Free();
        HttpsPort = Ports.Free();
    }

    public Db Db { get; }
    public string DataDir { get; }
    /// <summary>The PostgreSQL database's connection string; null for SQLite (the file is in <see cref="DataDir"/>).</summary>
    public string? ConnectionString { get; }
    public int Port { get; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");
    /// <summary>A free port per server for its HTTPS listener, so that servers of parallel tests never meet on 8443.</summary>
    public int HttpsPort { get; }
    public Uri HttpsAddress => new($"https://127.0.0.1:{HttpsPort}/");
    public string Token { get; private set; } = "";
    public int Pid => _process?.Id ?? 0;
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static Task<ServerProcess> StartAsync(Db db, params string[] extraArgs) => StartListeningOnAsync("127.0.0.1", db, extraArgs);

    /// <summary>Binds its HTTP address on <paramref name="listenHost"/> (e.g. 0.0.0.0); tests still talk to it on 127.0.0.1 only.</summary>
    public static async Task<ServerProcess> StartListeningOnAsync(string listenHost, Db db, params string[] extraArgs)
    {
        var dataDir = Directory.CreateTempSubdirectory("buildserver-test-").FullName;
        var connectionString = db == Db.Postgres ? await TestEnvironment.Postgres.CreateDatabaseAsync("bs") : null;
        var server = new ServerProcess(db, dataDir, connectionString, extraArgs, listenHost);
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DataDir,
        };
        string[] args =
        [
            Repository.ServerDll, "serve", "--data-dir", DataDir, "--urls", $"http://{_listenHost}:{Port}",
            "--Https:Url=" + HttpsAddress.ToString().TrimEnd('/'),
            .. Db == Db.Postgres ? new[] { "--Database:Provider=Postgres", "--Database:ConnectionString=" + ConnectionString } : [],
            .. _extraArgs,
        ];
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        // Kestrel binds its addresses one after another: started means both listeners answer (unless a test
        // chose its own Https:Url). The HTTPS probe only checks that the listener is up, so it accepts any certificate.
        using var http = new HttpClient();
        using var anyCertificate = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var https = new HttpClient(anyCertificate);
        var probeHttps = !_extraArgs.Any(a => a.StartsWith("--Https:Url", StringComparison.OrdinalIgnoreCase));
        await Eventually.Until(async () =>
        {
            if (process.HasExited)
            {
                Assert.Fail($"The server exited with {process.ExitCode} while starting:\n{Output}");
            }
            try
            {
                return (await http.GetAsync(new Uri(BaseAddress, "healthz"))).IsSuccessStatusCode
                       && (!probeHttps || (await https.GetAsync(new Uri(HttpsAddress, "healthz"))).IsSuccessStatusCode);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, ok => ok, TimeSpan.FromSeconds(60), "the server to answer /healthz");
        Token = (await File.ReadAllTextAsync(Path.Combine(DataDir, "initial-admin-token"))).Trim();
    }

    public ApiClient Client(string? token = null)
    {
        var http = new HttpClient { BaseAddress = new Uri(BaseAddress, "api/v1/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Token);
        return new ApiClient(http);
    }

    /// <summary>SIGKILL: no chance to clean up, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: false);
            await p.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM and wait for a graceful exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } p)
        {
            Processes.Signal(p.Id, Processes.SigTerm);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await p.WaitForExitAsync(timeout.Token);
        }
    }

    /// <summary>Stops gracefully (the agent then ends its steps), and kills only if that does not work.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A step's process may still be writing into its work folder for a moment; the temp folder is swept anyway.
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
