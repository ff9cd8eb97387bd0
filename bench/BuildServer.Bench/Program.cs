using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Bench;

// BuildServer benchmark: see bench/README.md. One JSON document on stdout, progress on stderr.
// Every server it starts is stopped by PID (SIGTERM, then SIGKILL) on success, failure, Ctrl-C or SIGTERM,
// and its temp folder is removed (unless BENCH_KEEP=1).

Options options;
try
{
    options = new Options(args);
}
catch (Exception e) when (e is BenchException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var cts = new CancellationTokenSource();
var signals = 0;
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // no immediate exit: the finally block below stops the servers
    if (Interlocked.Increment(ref signals) == 1)
    {
        Log.Info($"{context.Signal}: stopping");
        cts.Cancel();
    }
    else
    {
        ServerProcess.StopAll(TimeSpan.FromSeconds(3));
        Environment.Exit(130);
    }
}
using var sigInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
AppDomain.CurrentDomain.ProcessExit += (_, _) => ServerProcess.StopAll(TimeSpan.FromSeconds(5));
AppDomain.CurrentDomain.UnhandledException += (_, _) => ServerProcess.StopAll(TimeSpan.FromSeconds(5));

var ct = cts.Token;
var began = Stopwatch.GetTimestamp();
var result = new JsonObject
{
    ["server"] = "buildserver",
    ["git"] = Environment.GetEnvironmentVariable("BENCH_GIT") ?? "",
    ["git_dirty"] = Environment.GetEnvironmentVariable("BENCH_GIT_DIRTY")?.Trim() ?? "",
    ["db"] = options.Provider,
    ["server_build"] = options.ServerDll,
    ["single_file_build"] = Environment.GetEnvironmentVariable("BENCH_BUILD_INFO") ?? options.SingleFile,
    ["host"] = new JsonObject
    {
        ["nproc"] = Environment.ProcessorCount,
        ["kernel"] = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        ["dotnet"] = Environment.Version.ToString(),
    },
    ["params"] = new JsonObject
    {
        ["jobs"] = options.Burst,
        ["lat_runs"] = options.LatencyRuns,
        ["lat_gap_s"] = options.LatencyGap,
        ["lat_warm_up"] = options.LatencyWarmUp,
        ["submit_concurrency"] = options.Concurrency,
        ["agent_slots"] = options.Slots,
        ["restarts"] = options.Restarts,
        ["phases"] = string.Join(',', options.Phases.Order()),
    },
};
var errors = new JsonArray();
var temp = Directory.CreateTempSubdirectory("bsbench-");
if (Environment.GetEnvironmentVariable("BENCH_PIDFILE") is { Length: > 0 } pidFile)
{
    File.AppendAllText(pidFile, $"dir {temp.FullName}\n");
}
Session? session = null;
try
{
    result["host_busy_before_pct"] = await NoiseWindow.WaitIdleAsync(options.WaitIdle, Session.OwnCpu, ct);
    if (options.Phases.Contains("baseline"))
    {
        Log.Info("phase baseline (fork/exec floor from the bench)");
        var dir = Directory.CreateDirectory(Path.Combine(temp.FullName, "baseline")).FullName;
        result["baseline"] = await Baseline.RunAsync(options, dir, ct);
    }

    if (!File.Exists(options.ServerDll))
    {
        throw new BenchException($"no server build at {options.ServerDll}: run `dotnet build BuildServer -c Release` (bench/run.sh does)");
    }
    var dll = new ServerBuild("dll", "dotnet", [options.ServerDll]);
    var dataDir = Directory.CreateDirectory(Path.Combine(temp.FullName, "data")).FullName;
    string? token = null;
    if (options.Phases.Contains("startup"))
    {
        Log.Info("phase startup");
        await NoiseWindow.WaitIdleAsync(Math.Min(10, options.WaitIdle), Session.OwnCpu, ct);
        var startup = new JsonObject();
        (startup["dll"], token) = await Startup.MeasureAsync(options, dll, dataDir, null, Session.OwnCpu, ct);
        if (File.Exists(options.SingleFile))
        {
            var single = new ServerBuild("single_file", options.SingleFile, []);
            try
            {
                // Same data folder (existing database and token) as the dll build.
                (startup["single_file"], _) = await Startup.MeasureAsync(options, single, dataDir, token, Session.OwnCpu, ct);
                startup["single_file"]!["file_mb"] = Stats.Mb(new FileInfo(options.SingleFile).Length / 1024);
            }
            catch (BenchException e)
            {
                startup["single_file"] = new JsonObject { ["error"] = e.Message };
                errors.Add($"startup single_file: {e.Message}");
            }
        }
        else
        {
            startup["single_file"] = new JsonObject { ["skipped"] = $"no {options.SingleFile}" };
        }
        result["startup"] = startup;
    }

    if (options.Phases.Contains("latency") || options.Phases.Contains("burst"))
    {
        var main = options.Main == "single_file" ? new ServerBuild("single_file", options.SingleFile, []) : dll;
        result["main_build"] = main.Name;
        var (server, ready, tok) = await Startup.StartAsync(options, main, dataDir, token, ct);
        var project = "bench-" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        session = new Session(server, new Api(server.BaseUrl, tok), tok, project);
        Log.Info($"server pid {server.Pid} on {server.BaseUrl} ready in {ready.ApiS:F3}s; data {dataDir}");
        result["server_pid"] = server.Pid;
        result["rss_mb"] = new JsonObject { ["idle"] = await session.IdleRssAsync(2.0, ct) };
        result["idle_cpu"] = await session.IdleCpuAsync(10.0, ct);
        var (status, body) = await session.Api.PostJsonAsync("/api/v1/projects", new JsonObject { ["name"] = project }.ToJsonString(), ct);
        if ((int)status != 201) throw new BenchException($"create project -> {(int)status} {body?.ToJsonString()}");
        await session.ProbeStatusFilterAsync(ct);

        if (options.Phases.Contains("latency") && options.LatencyRuns > 0)
        {
            Log.Info($"phase latency ({options.LatencyRuns} runs + {options.LatencyWarmUp} warm-up)");
            result["latency"] = await WithRetryAsync("latency", () => Latency.RunAsync(options, session, ct));
        }
        if (options.Phases.Contains("burst") && options.Burst > 0)
        {
            Log.Info($"phase burst ({options.Burst} runs, {options.Concurrency} submitters, {options.Slots} slots)");
            result["burst"] = await WithRetryAsync("burst", () => Burst.RunAsync(options, session, ct));
            result["rss_mb"]!["idle_after"] = await session.IdleRssAsync(2.0, ct);
        }
        result["rss_mb"]!["vm_hwm_mb"] = ProcMem.Read(server.Pid) is { } m ? Stats.Mb(m.VmHwm) : null;
    }
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    errors.Add("interrupted");
}
catch (Exception e)
{
    errors.Add($"{e.GetType().Name}: {e.Message}");
    Log.Info($"ERROR {e}");
}
finally
{
    if (session is not null)
    {
        result["observations"] = new JsonArray(session.Observations.Select(x => (JsonNode?)x).ToArray());
        session.Dispose();
    }
    ServerProcess.StopAll(TimeSpan.FromSeconds(20));
    result["teardown_ok"] = ServerProcess.Running.Count == 0;
    result["server_log_errors"] = ServerLogErrors(temp.FullName);
    if (options.Keep)
    {
        Log.Info($"kept {temp.FullName}");
    }
    else
    {
        try
        {
            temp.Delete(recursive: true);
        }
        catch (IOException e)
        {
            Log.Info($"cannot remove {temp.FullName}: {e.Message}");
        }
    }
}

result["summary"] = Summary.Build(options, result);
if (options.BuildbotJson is { } bbPath && File.Exists(bbPath))
{
    result["buildbot"] = Summary.Buildbot(bbPath);
}
if (errors.Count > 0) result["errors"] = errors;
result["total_s"] = Math.Round(Clock.Since(began), 1);
Console.Out.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
return errors.Count > 0 ? 1 : 0;

// Error and fatal entries of every server log (Serilog console format "[HH:mm:ss ERR] ..."), with the lines
// that follow each (exception and stack), at most 40 lines in all.
static JsonArray ServerLogErrors(string root)
{
    var lines = new List<JsonNode?>();
    foreach (var file in Directory.EnumerateFiles(root, "server-*.log", SearchOption.AllDirectories))
    {
        var follow = 0;
        foreach (var line in File.ReadLines(file))
        {
            if (line.Contains(" ERR]", StringComparison.Ordinal) || line.Contains(" FTL]", StringComparison.Ordinal)) follow = 6;
            if (follow-- > 0 && lines.Count < 40) lines.Add($"{Path.GetFileName(file)}: {line}");
        }
    }
    return new JsonArray([.. lines]);
}

async Task<JsonObject> WithRetryAsync(string phase, Func<Task<JsonObject>> measure)
{
    var attempts = new List<JsonObject>();
    for (var i = 0; i <= options.RetryNoisy; i++)
    {
        if (i > 0)
        {
            Log.Info($"{phase} was noisy (other load on the machine): waiting for idle, measuring again");
            await NoiseWindow.WaitIdleAsync(Math.Max(10, options.WaitIdle), Session.OwnCpu, ct);
        }
        else
        {
            await NoiseWindow.WaitIdleAsync(Math.Min(10, options.WaitIdle), Session.OwnCpu, ct);
        }
        var r = await measure();
        attempts.Add(r);
        if (r["host_cpu"]?["noisy"]?.GetValue<bool>() != true) break;
    }
    // the quietest attempt is the figure (not noisy first, then the least foreign CPU + steal); the others stay in
    // the JSON. A repeated burst runs on a warmer server with more runs in its database: the JSON says which it was.
    for (var i = 0; i < attempts.Count; i++) attempts[i]["attempt"] = i + 1;
    var best = attempts
        .OrderBy(a => a["host_cpu"]?["noisy"]?.GetValue<bool>() == true)
        .ThenBy(a => (a["host_cpu"]?["foreign_cpu_pct_of_all_cores"]?.GetValue<double>() ?? 0) + (a["host_cpu"]?["steal_pct"]?.GetValue<double>() ?? 0))
        .First();
    if (attempts.Count > 1)
    {
        best["other_attempts"] = new JsonArray(attempts.Where(a => a != best).Select(a => (JsonNode?)a.DeepClone()).ToArray());
        best["attempts"] = attempts.Count;
    }
    return best;
}
