using System.Diagnostics;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>
/// Pickup latency: one server (SQLite) with its built-in agent (1 slot, labels [builtin]) and one real
/// <c>buildserver agent</c> process (1 slot, labels [remote-bench]) over HTTPS on loopback with the pinned
/// fingerprint. Sequential one-step <c>run: true</c> jobs routed by runs-on, alternating between the two agents, a
/// short gap between jobs so each agent is parked in its acquire. From the server's own timestamps (GET runs/{id}):
/// pickup = attempt queuedAt → assignedAt (the claim), → startedAt, → the step's startedAt (reported by the agent),
/// and the whole job (run createdAt → finishedAt). Baseline in the same run: the bare HTTPS round trip
/// (<c>GET /healthz</c> on a kept-alive pinned connection, as the agent's), and one with a new TLS connection each.
/// </summary>
internal static class PickupBench
{
    public static async Task<JsonObject> RunAsync(int jobs, int warmup, CancellationToken ct)
    {
        await using var server = await BenchServer.StartAsync("pickup", ["--Agent:Slots=1", "--Agent:Labels:0=builtin"], ct);
        var load = new MachineLoad();
        var cpu0 = server.CpuSeconds();
        var token = await server.RegistrationTokenAsync(ct);
        server.StartAgent("remote-bench", "remote-bench", 1, token);
        await server.WaitForAgentAsync("remote-bench", ct);
        await Runs.CreateProjectAsync(server.Admin, "pickup", ct);

        var baseline = await RoundTripsAsync(server, 200, keepAlive: true, ct);
        var fresh = await RoundTripsAsync(server, 50, keepAlive: false, ct);

        var series = new Dictionary<string, Series> { ["builtin"] = new(), ["remote"] = new() };
        for (var i = 0; i < warmup + jobs; i++)
        {
            foreach (var (name, label) in new[] { ("builtin", "builtin"), ("remote", "remote-bench") })
            {
                await Task.Delay(100, ct); // the agent is back in its long-poll
                var t0 = Stopwatch.GetTimestamp();
                var run = await Runs.TriggerAsync(server.Admin, "pickup", Pipeline(label), ct);
                var post = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                var done = await Runs.WaitFinishedAsync(server.Admin, run["id"]!.GetValue<long>(), 5, TimeSpan.FromSeconds(60), ct);
                var seen = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (i < warmup) continue;
                series[name].Add(done, post, seen);
            }
            if (i % 20 == 19) Log.Info($"pickup: {i + 1 - warmup}/{jobs}");
        }
        var underTest = server.CpuSeconds() - cpu0 + server.AgentsCpuSeconds();
        var result = new JsonObject
        {
            ["jobs_per_agent"] = jobs,
            ["warmup_dropped"] = warmup,
            ["database"] = "sqlite",
            ["definition"] = "pickup = attempt queuedAt -> assignedAt (server clock); to_started = -> attempt startedAt; " +
                             "to_step_started = -> step startedAt (the agent's report received); whole_job = run createdAt -> finishedAt",
            ["baseline_https_roundtrip_keepalive"] = baseline.ToJson(),
            ["baseline_https_roundtrip_new_connection"] = fresh.ToJson(),
            ["builtin"] = series["builtin"].ToJson(),
            ["remote"] = series["remote"].ToJson(),
            ["remote_pickup_p50_over_builtin"] = Timings.Ratio(series["remote"].Pickup, series["builtin"].Pickup),
            ["remote_pickup_p50_over_https_roundtrip"] = Timings.Ratio(series["remote"].Pickup, baseline),
            ["remote_step_started_p50_over_https_roundtrip"] = Timings.Ratio(series["remote"].ToStepStarted, baseline),
            ["target_remote_pickup_p50_ms"] = 15,
            ["target_met"] = series["remote"].Pickup.Percentile(50) <= 15,
        };
        result["machine"] = load.Stop(underTest);
        return result;
    }

    private static string Pipeline(string label) => $$"""
        on: workflow_dispatch
        jobs:
          t:
            runs-on: [{{label}}]
            steps:
              - run: "true"
        """;

    /// <summary><c>GET /healthz</c> over HTTPS with the pinned certificate: a kept-alive connection, or a new one each time.</summary>
    internal static async Task<Timings> RoundTripsAsync(BenchServer server, int n, bool keepAlive, CancellationToken ct)
    {
        var timings = new Timings();
        using var shared = new HttpClient(server.PinnedHandler()) { BaseAddress = new Uri(server.HttpsUrl) };
        for (var i = 0; i < n + 10; i++)
        {
            using var client = keepAlive ? null : new HttpClient(server.PinnedHandler()) { BaseAddress = new Uri(server.HttpsUrl) };
            var t0 = Stopwatch.GetTimestamp();
            using (var response = await (client ?? shared).GetAsync("/healthz", ct)) response.EnsureSuccessStatusCode();
            if (i >= 10) timings.Add(t0);
        }
        return timings;
    }

    private sealed class Series
    {
        public Timings Pickup { get; } = new();

        public Timings ToStarted { get; } = new();

        public Timings ToStepStarted { get; } = new();

        public Timings WholeJob { get; } = new();

        public Timings TriggerPost { get; } = new();

        public Timings SeenFinished { get; } = new();

        private int _failed;

        public void Add(JsonObject run, double post, double seen)
        {
            var attempt = run["jobs"]![0]!["attempts"]!.AsArray()[^1]!;
            if (run["status"]?.GetValue<string>() != "succeeded") _failed++;
            var queued = Runs.Time(attempt["queuedAt"]);
            Pickup.AddMs(Runs.Ms(queued, Runs.Time(attempt["assignedAt"])));
            ToStarted.AddMs(Runs.Ms(queued, Runs.Time(attempt["startedAt"])));
            ToStepStarted.AddMs(Runs.Ms(queued, Runs.Time(attempt["steps"]![0]!["startedAt"])));
            WholeJob.AddMs(Runs.Ms(Runs.Time(run["createdAt"]), Runs.Time(run["finishedAt"])));
            TriggerPost.AddMs(post);
            SeenFinished.AddMs(seen);
        }

        public JsonObject ToJson() => new()
        {
            ["pickup_queued_to_assigned"] = Pickup.ToJson(),
            ["queued_to_attempt_started"] = ToStarted.ToJson(),
            ["queued_to_step_started"] = ToStepStarted.ToJson(),
            ["whole_job_created_to_finished"] = WholeJob.ToJson(),
            ["trigger_post_roundtrip"] = TriggerPost.ToJson(),
            ["client_post_to_seen_finished_poll5ms"] = SeenFinished.ToJson(),
            ["not_succeeded"] = _failed,
        };
    }
}
