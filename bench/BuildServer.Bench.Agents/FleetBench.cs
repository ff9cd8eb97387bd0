using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>
/// A fleet of simulated agents (light clients in this process, not processes) against one server (SQLite,
/// <c>--Agent:Slots=0</c>) over HTTPS with the pinned certificate, all through one <see cref="SocketsHttpHandler"/>
/// (HTTP/1.1 with unlimited connections per server, or HTTP/2 with <c>BENCH_HTTP2=1</c>). Each agent registers with
/// one reusable registration token, then long-polls acquire (wait=30) and heartbeats every 10 s (first one at a random
/// moment in the first 10 s, so the calls are spread evenly). A job it acquires is completed through the protocol:
/// one log chunk, then complete succeeded. During the window a burst of jobs is queued (one-job runs, or runs of up to 100 matrix jobs with <c>jobsPerRun</c>).
/// Baseline in the same run, before the agents register: as many clients calling <c>GET /healthz</c> over the same
/// handler at the same rate (one call every 10 s each), and the idle server's round trip.
/// </summary>
internal sealed partial class FleetBench(int agents, int windowSeconds, int burstJobs, int baselineSeconds, bool http2, int jobsPerRun)
{
    private const string Label = "fleet";
    private const int WarmupSeconds = 30;
    private const int BucketSeconds = 10;
    private readonly ConcurrentDictionary<long, int> _jobsByAgent = new();
    private readonly Timings _heartbeatSteady = new();
    private readonly Timings _heartbeatBurst = new();
    private readonly Timings _logChunk = new();
    private readonly Timings _complete = new();
    private readonly ConcurrentBag<string> _errors = [];
    private readonly ConcurrentDictionary<int, Timings> _heartbeatTimeline = new();
    private readonly ConcurrentBag<(int Second, double CpuSeconds, int Threads)> _serverSamples = [];
    private long _acquire200, _acquire204, _heartbeats, _completed, _requests;
    private long _burstStart, _burstEnd;

    public async Task<JsonObject> RunAsync(CancellationToken ct)
    {
        await using var server = await BenchServer.StartAsync("fleet", ["--Agent:Slots=0"], ct);
        var load = new MachineLoad();
        var cpuStart = server.CpuSeconds();
        var rssIdle = MachineLoad.StatusMb(server.Pid);
        using var http = new HttpClient(server.PinnedHandler(http2)) { BaseAddress = new Uri(server.HttpsUrl), Timeout = TimeSpan.FromSeconds(90) };
        if (http2)
        {
            http.DefaultRequestVersion = HttpVersion.Version20;
            http.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        var idle = await PickupBench.RoundTripsAsync(server, 200, keepAlive: true, ct);

        Log.Info($"fleet: baseline, {agents} clients calling /healthz every 10 s for {baselineSeconds} s");
        var baselineCpu0 = server.CpuSeconds();
        var baseline = await HealthzFleetAsync(http, ct);
        var baselineCpu = server.CpuSeconds() - baselineCpu0;

        var registration = await server.RegistrationTokenAsync(ct);
        await Runs.CreateProjectAsync(server.Admin, "fleet", ct);
        var t0 = Stopwatch.GetTimestamp();
        var credentials = await RegisterAsync(http, registration, server.Version, ct);
        var registerSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        Log.Info($"fleet: {credentials.Length} agents registered in {registerSeconds:F1} s; window {windowSeconds} s");

        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var windowStart = Stopwatch.GetTimestamp();
        var cpu0 = server.CpuSeconds();
        var bench0 = MachineLoad.ProcessCpuSeconds("self");
        var rss = new List<double>();
        var loops = credentials.Select(c => Task.WhenAll(AcquireLoopAsync(http, c, window.Token), HeartbeatLoopAsync(http, c, windowStart, window.Token))).ToArray();
        var sampler = Task.Run(async () =>
        {
            while (!window.IsCancellationRequested)
            {
                rss.Add(MachineLoad.StatusMb(server.Pid));
                var second = (int)Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
                _serverSamples.Add((second, server.CpuSeconds(), Threads(server.Pid)));
                try { await Task.Delay(1000, window.Token); } catch (OperationCanceledException) { break; }
            }
        }, CancellationToken.None);

        var burstAt = BurstAtSeconds;
        await Task.Delay(TimeSpan.FromSeconds(burstAt), ct);
        var cpuBurst0 = server.CpuSeconds();
        var burst = await BurstAsync(server, ct);
        var cpuBurst = server.CpuSeconds() - cpuBurst0;
        var remaining = TimeSpan.FromSeconds(windowSeconds) - Stopwatch.GetElapsedTime(windowStart);
        if (remaining > TimeSpan.Zero) await Task.Delay(remaining, ct);
        var windowWall = Stopwatch.GetElapsedTime(windowStart).TotalSeconds;
        var cpuWindow = server.CpuSeconds() - cpu0;
        var benchCpu = MachineLoad.ProcessCpuSeconds("self") - bench0;
        await window.CancelAsync();
        await Task.WhenAll(loops);
        await sampler;
        var hwm = MachineLoad.StatusMb(server.Pid, "VmHWM");
        var machine = load.Stop(server.CpuSeconds() - cpuStart);

        var steadyWindow = windowWall - WarmupSeconds - (burst.Seconds ?? 0);
        var result = new JsonObject
        {
            ["agents"] = credentials.Length,
            ["transport"] = http2 ? "HTTPS HTTP/2 (multiple connections)" : "HTTPS HTTP/1.1, one handler, unlimited connections per server",
            ["database"] = "sqlite",
            ["window_s"] = Math.Round(windowWall, 1),
            ["registration_s"] = Math.Round(registerSeconds, 2),
            ["registrations_per_s"] = Math.Round(credentials.Length / registerSeconds, 1),
            ["heartbeat_steady"] = _heartbeatSteady.ToJson(),
            ["heartbeat_during_burst"] = _heartbeatBurst.ToJson(),
            ["heartbeat_p99_target_ms"] = 50,
            ["heartbeat_p99_target_met"] = _heartbeatSteady.Percentile(99) <= 50 && _heartbeatBurst.Percentile(99) <= 50,
            ["baseline_healthz_same_rate_same_clients"] = baseline.ToJson(),
            ["baseline_healthz_server_cpu_pct_of_one_core"] = Math.Round(100 * baselineCpu / baselineSeconds, 1),
            ["baseline_idle_https_roundtrip"] = idle.ToJson(),
            ["heartbeat_p50_over_healthz_p50_same_rate"] = Timings.Ratio(_heartbeatSteady, baseline),
            ["heartbeat_p99_over_healthz_p99_same_rate"] = Timings.Round(_heartbeatSteady.Percentile(99) / baseline.Percentile(99)),
            ["calls"] = new JsonObject
            {
                ["heartbeats"] = _heartbeats,
                ["acquire_204"] = _acquire204,
                ["acquire_200"] = _acquire200,
                ["all_requests"] = _requests,
                ["errors"] = _errors.Count,
                ["error_kinds"] = new JsonObject(_errors.GroupBy(e => e).OrderByDescending(g => g.Count()).Take(6)
                    .Select(g => KeyValuePair.Create(g.Key.Length > 200 ? g.Key[..200] : g.Key, (JsonNode?)g.Count()))),
            },
            ["server_cpu"] = new JsonObject
            {
                ["window_cpu_s"] = Math.Round(cpuWindow, 2),
                ["window_pct_of_one_core"] = Math.Round(100 * cpuWindow / windowWall, 1),
                ["steady_pct_of_one_core_without_burst"] = Math.Round(100 * (cpuWindow - cpuBurst) / (windowWall - (burst.Seconds ?? 0)), 1),
                ["ms_per_request_in_window"] = Math.Round(1000 * cpuWindow / Math.Max(1, _requests), 3),
                ["burst_cpu_s"] = Math.Round(cpuBurst, 2),
                ["burst_ms_per_job"] = Math.Round(1000 * cpuBurst / burstJobs, 2),
            },
            ["bench_process_cpu_pct_of_one_core"] = Math.Round(100 * benchCpu / windowWall, 1),
            ["server_rss_mb"] = new JsonObject
            {
                ["idle_before"] = Math.Round(rssIdle, 1),
                ["window_avg"] = Math.Round(rss.Count == 0 ? -1 : rss.Average(), 1),
                ["window_peak"] = Math.Round(rss.Count == 0 ? -1 : rss.Max(), 1),
                ["vmhwm"] = Math.Round(hwm, 1),
            },
            ["heartbeat_timeline"] = Timeline(),
            ["burst"] = burst.Json,
            ["log_chunk_put"] = _logChunk.ToJson(),
            ["complete_post"] = _complete.ToJson(),
            ["notes"] = $"heartbeat samples from the first {WarmupSeconds} s are dropped (agents coming online over 10 s: connection set-up); " +
                        $"steady = outside the burst ({Math.Round(steadyWindow)} s)",
        };
        result["machine"] = machine;
        return result;
    }

    private int BurstAtSeconds => windowSeconds / 2;

    private async Task<Timings> HealthzFleetAsync(HttpClient http, CancellationToken ct)
    {
        var timings = new Timings();
        var start = Stopwatch.GetTimestamp();
        var end = TimeSpan.FromSeconds(baselineSeconds);
        await Task.WhenAll(Enumerable.Range(0, agents).Select(async i =>
        {
            var at = TimeSpan.FromSeconds(Random.Shared.NextDouble() * 10);
            while (at < end)
            {
                var wait = at - Stopwatch.GetElapsedTime(start);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                var t = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.GetAsync("/healthz", ct);
                    response.EnsureSuccessStatusCode();
                    if (Stopwatch.GetElapsedTime(start).TotalSeconds > Math.Min(10, baselineSeconds / 2)) timings.Add(t);
                }
                catch (HttpRequestException e)
                {
                    _errors.Add("healthz: " + Describe(e));
                }
                at += TimeSpan.FromSeconds(10);
            }
        }));
        return timings;
    }

    private async Task<Agent[]> RegisterAsync(HttpClient http, string registration, string version, CancellationToken ct)
    {
        var result = new Agent[agents];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < agents)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents/register")
                {
                    Content = JsonContent.Create(new { name = $"sim-{i:D4}", labels = new[] { Label }, slots = 1, version }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registration);
                using var response = await http.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"register: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                var body = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
                result[i] = new Agent(body["agentId"]!.GetValue<long>(), body["agentToken"]!.GetValue<string>());
            }
        }));
        return result;
    }

    private HttpRequestMessage Request(HttpMethod method, string path, Agent agent, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", agent.Token);
        request.Headers.Add("BuildServer-Agent-Protocol", "1");
        Interlocked.Increment(ref _requests);
        return request;
    }

    private async Task AcquireLoopAsync(HttpClient http, Agent agent, CancellationToken ct)
    {
        // Agents come online spread over the first 10 s (their heartbeats are spread the same way).
        try { await Task.Delay(TimeSpan.FromSeconds(Random.Shared.NextDouble() * 10), ct); } catch (OperationCanceledException) { return; }
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var request = Request(HttpMethod.Post, "/api/v1/agent/acquire?wait=30", agent);
                using var response = await http.SendAsync(request, ct);
                if (response.StatusCode == HttpStatusCode.NoContent)
                {
                    Interlocked.Increment(ref _acquire204);
                    continue;
                }
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"acquire: {(int)response.StatusCode}");
                Interlocked.Increment(ref _acquire200);
                var job = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
                agent.Running = job["attemptId"]!.GetValue<long>();
                await RunJobAsync(http, agent, agent.Running, ct);
                agent.Running = 0;
                _jobsByAgent.AddOrUpdate(agent.Id, 1, (_, n) => n + 1);
                if (Interlocked.Increment(ref _completed) == burstJobs) Interlocked.Exchange(ref _burstEnd, Stopwatch.GetTimestamp());
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                _errors.Add(Describe(e));
                await Task.Delay(1000, CancellationToken.None);
            }
        }
    }

    /// <summary>What an agent sends for a one-step job that printed one line: the chunk, then the completion.</summary>
    private async Task RunJobAsync(HttpClient http, Agent agent, long attempt, CancellationToken ct)
    {
        var line = Encoding.UTF8.GetBytes($"{DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture)} fleet job {attempt}\n");
        var t = Stopwatch.GetTimestamp();
        var chunk = new ByteArrayContent(line);
        chunk.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using (var request = Request(HttpMethod.Put, $"/api/v1/agent/attempts/{attempt}/log/1?offset=0", agent, chunk))
        using (var response = await http.SendAsync(request, ct))
        {
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"log: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
        _logChunk.Add(t);
        t = Stopwatch.GetTimestamp();
        var completion = JsonContent.Create(new
        {
            status = "succeeded",
            exitCode = 0,
            lastStep = new { index = 0, status = "succeeded", exitCode = 0, logEnd = line.Length },
        });
        using (var request = Request(HttpMethod.Post, $"/api/v1/agent/attempts/{attempt}/complete", agent, completion))
        using (var response = await http.SendAsync(request, ct))
        {
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"complete: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
        _complete.Add(t);
    }

    private async Task HeartbeatLoopAsync(HttpClient http, Agent agent, long windowStart, CancellationToken ct)
    {
        var at = TimeSpan.FromSeconds(Random.Shared.NextDouble() * 10);
        while (!ct.IsCancellationRequested)
        {
            var wait = at - Stopwatch.GetElapsedTime(windowStart);
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, ct);
                var running = agent.Running is > 0 and var r ? new[] { r } : [];
                var t = Stopwatch.GetTimestamp();
                using var request = Request(HttpMethod.Post, "/api/v1/agent/heartbeat", agent,
                    JsonContent.Create(new { running, freeSlots = running.Length == 0 ? 1 : 0 }));
                using var response = await http.SendAsync(request, ct);
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"heartbeat: {(int)response.StatusCode}");
                await response.Content.LoadIntoBufferAsync(ct);
                var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                Interlocked.Increment(ref _heartbeats);
                var sentAt = (int)((t - windowStart) / (double)Stopwatch.Frequency);
                _heartbeatTimeline.GetOrAdd(sentAt / BucketSeconds * BucketSeconds, _ => new Timings()).AddMs(ms);
                if (Stopwatch.GetElapsedTime(windowStart).TotalSeconds > WarmupSeconds)
                {
                    var inBurst = Volatile.Read(ref _burstStart) != 0 && t >= _burstStart && (Volatile.Read(ref _burstEnd) == 0 || t <= _burstEnd);
                    (inBurst ? _heartbeatBurst : _heartbeatSteady).AddMs(ms);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
            {
                _errors.Add(Describe(e));
            }
            at += TimeSpan.FromSeconds(10);
        }
    }

    /// <summary>Queues the burst (<c>run: true</c> jobs, <c>jobsPerRun</c> per run) and waits for the agents to complete them all.</summary>
    private async Task<(JsonObject Json, double? Seconds)> BurstAsync(BenchServer server, CancellationToken ct)
    {
        Interlocked.Exchange(ref _completed, 0);
        _jobsByAgent.Clear();
        Log.Info($"fleet: burst of {burstJobs} jobs");
        var start = Stopwatch.GetTimestamp();
        Interlocked.Exchange(ref _burstStart, start);
        var runIds = new ConcurrentBag<long>();
        var sizes = new ConcurrentQueue<int>();
        for (var left = burstJobs; left > 0; left -= jobsPerRun) sizes.Enqueue(Math.Min(jobsPerRun, left));
        // Four clients queue the runs (one keep-alive connection each, as the main bench's burst).
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (sizes.TryDequeue(out var size))
            {
                var run = await Runs.TriggerAsync(server.Admin, "fleet", Pipeline(size), ct);
                runIds.Add(run["id"]!.GetValue<long>());
            }
        }));
        var queued = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var deadline = start + Stopwatch.Frequency * 180;
        while (Interlocked.Read(ref _completed) < burstJobs && Stopwatch.GetTimestamp() < deadline) await Task.Delay(20, ct);
        var done = Interlocked.Read(ref _completed) >= burstJobs;
        var seconds = done ? Stopwatch.GetElapsedTime(start, Interlocked.Read(ref _burstEnd)).TotalSeconds : (double?)null;
        // Every run finished and succeeded, per the server.
        var succeeded = 0;
        foreach (var id in runIds)
        {
            var run = await Runs.WaitFinishedAsync(server.Admin, id, 200, TimeSpan.FromSeconds(60), ct);
            succeeded += run["jobs"]!.AsArray().Count(j => j!["status"]?.GetValue<string>() == "succeeded");
        }
        var perAgent = _jobsByAgent.Values.ToArray();
        return (new JsonObject
        {
            ["jobs"] = burstJobs,
            ["runs"] = runIds.Count,
            ["jobs_per_run"] = jobsPerRun,
            ["queue_s"] = Math.Round(queued, 2),
            ["all_completed"] = done,
            ["completed_s"] = seconds is { } s ? Math.Round(s, 2) : -1,
            ["jobs_per_s"] = seconds is { } s2 ? Math.Round(burstJobs / s2, 1) : -1,
            ["jobs_succeeded_per_server"] = succeeded,
            ["distinct_agents"] = perAgent.Length,
            ["max_jobs_per_agent"] = perAgent.Length == 0 ? 0 : perAgent.Max(),
            ["job"] = "one step, completed by the simulated agent: PUT one log line (seq 1), POST complete succeeded",
        }, seconds);
    }

    private static string Pipeline(int jobs) => jobs == 1 ? $$"""
        on: workflow_dispatch
        jobs:
          work:
            runs-on: [{{Label}}]
            steps:
              - run: "true"
        """ : $$$"""
        on: workflow_dispatch
        jobs:
          work:
            runs-on: [{{{Label}}}]
            strategy:
              matrix:
                n: [{{{string.Join(", ", Enumerable.Range(1, jobs))}}}]
            steps:
              - run: "true"
        """;
}
