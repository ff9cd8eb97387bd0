using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>Starting servers and timing start -> API ready.</summary>
internal static class Startup
{
    public const string TokenFile = "initial-admin-token";

    /// <summary>Seconds from process start to GET /healthz = 200, and to an authorised API call = 200.</summary>
    public readonly record struct Ready(double HealthzS, double ApiS);

    /// <summary>Starts <paramref name="build"/> on <paramref name="dataDir"/> and waits until its API answers.
    /// On a fresh data folder the token is read from the file the first start writes.</summary>
    public static async Task<(ServerProcess Server, Ready Ready, string Token)> StartAsync(
        Options o, ServerBuild build, string dataDir, string? token, CancellationToken ct)
    {
        var port = ServerProcess.FreePort();
        var start = Stopwatch.GetTimestamp();
        var server = ServerProcess.Start(build, dataDir, o.ServerArgs(), port);
        try
        {
            var deadline = TimeSpan.FromSeconds(90);
            double healthz;
            using (var anonymous = new Api(server.BaseUrl, null, TimeSpan.FromSeconds(5)))
            {
                while (true)
                {
                    Alive(server);
                    try
                    {
                        if (await anonymous.StatusAsync("/healthz", ct) == HttpStatusCode.OK) break;
                    }
                    catch (HttpRequestException)
                    {
                        // not listening yet
                    }
                    if (Stopwatch.GetElapsedTime(start) > deadline) throw new BenchException($"{build.Name}: /healthz not 200 within {deadline}");
                    await Task.Delay(10, ct);
                }
                healthz = Clock.Since(start);
            }
            if (token is null)
            {
                var path = Path.Combine(dataDir, TokenFile);
                while (!File.Exists(path) || new FileInfo(path).Length == 0)
                {
                    Alive(server);
                    if (Stopwatch.GetElapsedTime(start) > deadline)
                        throw new BenchException($"no {path}: the database was not fresh (the server writes the token only when no token exists)");
                    await Task.Delay(10, ct);
                }
                token = (await File.ReadAllTextAsync(path, ct)).Trim();
            }
            using (var api = new Api(server.BaseUrl, token, TimeSpan.FromSeconds(5)))
            {
                while (true)
                {
                    Alive(server);
                    try
                    {
                        var status = await api.StatusAsync("/api/v1/projects", ct);
                        if (status == HttpStatusCode.OK) break;
                        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                            throw new BenchException($"{build.Name}: the token was refused ({(int)status})");
                    }
                    catch (HttpRequestException)
                    {
                        // restarting listener
                    }
                    if (Stopwatch.GetElapsedTime(start) > deadline) throw new BenchException($"{build.Name}: API not ready within {deadline}");
                    await Task.Delay(10, ct);
                }
            }
            return (server, new Ready(healthz, Clock.Since(start)), token);
        }
        catch
        {
            server.Stop(TimeSpan.FromSeconds(10));
            server.Dispose();
            throw;
        }
    }

    private static void Alive(ServerProcess server)
    {
        if (server.HasExited)
        {
            var log = Path.Combine(server.DataDir, $"server-{server.Build.Name}.log");
            var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : "";
            throw new BenchException($"server {server.Build.Name} (pid {server.Pid}) exited during start-up:\n{tail}");
        }
    }

    /// <summary>
    /// First start (creates or migrates the database, writes the token) is timed apart; then
    /// <see cref="Options.Restarts"/> starts on that existing database, each stopped (SIGTERM) before the next.
    /// </summary>
    public static async Task<(JsonObject Result, string Token)> MeasureAsync(
        Options o, ServerBuild build, string dataDir, string? token, Func<double> ownCpu, CancellationToken ct)
    {
        var noise = new NoiseWindow(ownCpu);
        var result = new JsonObject { ["build"] = build.Name, ["command"] = string.Join(' ', new[] { build.FileName }.Concat(build.PrefixArgs)) + " serve ..." };
        if (token is null)
        {
            var (first, ready, t) = await StartAsync(o, build, dataDir, null, ct);
            token = t;
            result["first_start_new_db"] = new JsonObject
            {
                ["healthz_s"] = Math.Round(ready.HealthzS, 3),
                ["api_ready_s"] = Math.Round(ready.ApiS, 3),
            };
            result["first_stop_s"] = Math.Round(first.Stop(TimeSpan.FromSeconds(20)), 3);
            first.Dispose();
            Log.Info($"startup {build.Name}: first start (new database) ready in {ready.ApiS:F3}s");
        }
        List<double> healthz = [], api = [], stops = [];
        long? rssAtReady = null;
        for (var i = 0; i < o.Restarts; i++)
        {
            await Task.Delay(500, ct);
            var (server, ready, _) = await StartAsync(o, build, dataDir, token, ct);
            healthz.Add(ready.HealthzS);
            api.Add(ready.ApiS);
            rssAtReady ??= ProcMem.Read(server.Pid)?.VmRss;
            stops.Add(server.Stop(TimeSpan.FromSeconds(20)));
            server.Dispose();
        }
        result["existing_db"] = new JsonObject
        {
            ["healthz_s"] = Stats.SummaryS(healthz),
            ["api_ready_s"] = Stats.SummaryS(api),
            ["stop_s"] = Stats.SummaryS(stops),
            ["rss_at_ready_mb"] = rssAtReady is { } r ? Stats.Mb(r) : null,
        };
        result["host_cpu"] = noise.Finish();
        Log.Info($"startup {build.Name}: existing database, API ready median {(api.Count > 0 ? Stats.Median(api) : double.NaN):F3}s " +
                 $"(healthz {(healthz.Count > 0 ? Stats.Median(healthz) : double.NaN):F3}s), n={api.Count}");
        return (result, token);
    }
}
