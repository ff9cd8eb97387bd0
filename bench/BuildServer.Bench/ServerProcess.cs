using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace BuildServer.Bench;

/// <summary>How to launch one build of the server: <c>dotnet buildserver.dll</c> or the single-file binary.</summary>
internal sealed record ServerBuild(string Name, string FileName, IReadOnlyList<string> PrefixArgs);

/// <summary>
/// A server process this bench started. Every instance is registered until it has exited, so that
/// <see cref="StopAll"/> (Ctrl-C, SIGTERM, a crash of the bench) stops exactly the processes the bench
/// started, by PID, and nothing else. Each PID is also appended to <c>$BENCH_PIDFILE</c> (with its data
/// folder) for run.sh's own safety net.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private static readonly List<ServerProcess> Live = [];
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly object _logLock = new();

    private ServerProcess(Process process, StreamWriter log, int port, string dataDir, ServerBuild build)
    {
        (_process, _log, Port, DataDir, Build) = (process, log, port, dataDir, build);
        Pid = process.Id;
    }

    public int Pid { get; }

    public int Port { get; }

    public string DataDir { get; }

    public ServerBuild Build { get; }

    public bool HasExited => _process.HasExited;

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public static IReadOnlyList<ServerProcess> Running
    {
        get
        {
            lock (Live) return Live.Where(s => !s.HasExited).ToList();
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static ServerProcess Start(ServerBuild build, string dataDir, IReadOnlyList<string> extraArgs, int port)
    {
        var info = new ProcessStartInfo(build.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDir,
        };
        foreach (var a in build.PrefixArgs) info.ArgumentList.Add(a);
        foreach (var a in new[] { "serve", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{port}" }) info.ArgumentList.Add(a);
        foreach (var a in extraArgs) info.ArgumentList.Add(a);
        // Telemetry and first-run noise of the dotnet host off; nothing else of the environment changes.
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var log = new StreamWriter(Path.Combine(dataDir, $"server-{build.Name}.log"), append: true) { AutoFlush = true };
        var process = new Process { StartInfo = info };
        ServerProcess? server = null;
        lock (Live)
        {
            process.Start();
            server = new ServerProcess(process, log, port, dataDir, build);
            Live.Add(server);
            NoiseWindow.OwnPids.Add(server.Pid);
        }
        RecordPid(server.Pid, dataDir);
        process.StandardInput.Close();
        process.OutputDataReceived += (_, e) => server.WriteLog(e.Data);
        process.ErrorDataReceived += (_, e) => server.WriteLog(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private void WriteLog(string? line)
    {
        if (line is null) return;
        lock (_logLock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // output after Dispose: dropped
            }
        }
    }

    public static void RecordPid(int pid, string dataDir)
    {
        if (Environment.GetEnvironmentVariable("BENCH_PIDFILE") is { Length: > 0 } file)
        {
            try
            {
                File.AppendAllText(file, $"pid {pid} {dataDir}\n");
            }
            catch (IOException e)
            {
                Log.Info($"cannot write the pid file {file}: {e.Message}");
            }
        }
    }

    /// <summary>SIGTERM (a graceful stop), SIGKILL if still alive after <paramref name="grace"/>.
    /// Returns the seconds from SIGTERM to exit.</summary>
    public double Stop(TimeSpan grace)
    {
        var start = Stopwatch.GetTimestamp();
        if (!_process.HasExited)
        {
            Native.Signal(Pid, Native.SigTerm);
            if (!_process.WaitForExit(grace))
            {
                Log.Info($"server pid {Pid} still alive {grace.TotalSeconds:F0}s after SIGTERM: SIGKILL");
                try
                {
                    _process.Kill(entireProcessTree: false);
                }
                catch (InvalidOperationException)
                {
                    // exited meanwhile
                }
                _process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        _process.WaitForExit(TimeSpan.FromSeconds(2)); // drains the redirected output
        var elapsed = Clock.Since(start);
        lock (Live) Live.Remove(this);
        return elapsed;
    }

    /// <summary>Stops every server this bench started that is still running (SIGTERM all, then wait).</summary>
    public static void StopAll(TimeSpan grace)
    {
        List<ServerProcess> all;
        lock (Live) all = [.. Live];
        foreach (var s in all.Where(s => !s.HasExited))
        {
            Log.Info($"stopping server pid {s.Pid}");
            Native.Signal(s.Pid, Native.SigTerm);
        }
        foreach (var s in all)
        {
            s.Stop(grace);
            s.Dispose();
        }
    }

    public void Dispose()
    {
        lock (_logLock) _log.Dispose();
        _process.Dispose();
    }
}
