using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>The headline figures, the targets, and the server's figures as ratios of the fork/exec floor.</summary>
internal static class Summary
{
    public const double PickupP50TargetMs = 25;
    public const double BurstTargetJobsPerS = 100;
    public const double StartReadyTargetS = 1.5;

    private static double? D(JsonNode? root, params string[] path)
    {
        var node = root;
        foreach (var p in path)
        {
            node = node is JsonObject o && o.TryGetPropertyValue(p, out var child) ? child : null;
            if (node is null) return null;
        }
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<long>(out var l)) return l;
        return v.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static bool? B(JsonNode? root, params string[] path)
    {
        var node = root;
        foreach (var p in path)
        {
            node = node is JsonObject o && o.TryGetPropertyValue(p, out var child) ? child : null;
            if (node is null) return null;
        }
        return node is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
    }

    private static double? Ratio(double? a, double? b, int digits = 2) =>
        a is { } x && b is { } y && y != 0 ? Math.Round(x / y, digits) : null;

    public static JsonObject Build(Options o, JsonObject r)
    {
        var pickupP50 = D(r, "latency", "pickup_ms", "p50");
        var jobsPerS = D(r, "burst", "jobs_per_s");
        var ready = D(r, "startup", "dll", "existing_db", "api_ready_s", "median");
        var readySingle = D(r, "startup", "single_file", "existing_db", "api_ready_s", "median");
        var cpuPerJob = D(r, "burst", "server_cpu_s_per_job");
        var dateFloor = D(r, "baseline", "date", "start_to_command_ran_ms", "p50");
        var chainFloor = D(r, "baseline", "server_chain_date", "start_to_command_ran_ms", "p50");
        var chainPerS = D(r, "baseline", "server_chain_true_parallel", "per_s");
        var chainCpuMs = D(r, "baseline", "server_chain_true", "cpu_ms_per_exec_parent") +
                         D(r, "baseline", "server_chain_true", "cpu_ms_per_exec_children");

        JsonObject Target(double? value, double target, bool atMost) => new()
        {
            ["target"] = target,
            ["value"] = value,
            ["met"] = value is { } v ? (atMost ? v <= target : v >= target) : null,
        };

        var targets = new JsonObject
        {
            ["pickup_p50_ms_at_most"] = Target(pickupP50, PickupP50TargetMs, true),
            ["burst_jobs_per_s_at_least"] = Target(jobsPerS, BurstTargetJobsPerS, false),
            ["start_to_api_ready_s_at_most"] = Target(ready, StartReadyTargetS, true),
        };
        if (readySingle is not null) targets["start_to_api_ready_single_file_s_at_most"] = Target(readySingle, StartReadyTargetS, true);
        if (o.Postgres is not null) targets["note"] = "the burst target is stated for SQLite";

        return new JsonObject
        {
            ["db"] = o.Provider,
            ["pickup_p50_ms"] = pickupP50,
            ["pickup_p95_ms"] = D(r, "latency", "pickup_ms", "p95"),
            ["turnaround_p50_ms"] = D(r, "latency", "turnaround_ms", "p50"),
            ["turnaround_p95_ms"] = D(r, "latency", "turnaround_ms", "p95"),
            ["post_response_p50_ms"] = D(r, "latency", "post_response_ms", "p50"),
            ["burst_jobs"] = D(r, "burst", "jobs"),
            ["burst_jobs_per_s"] = jobsPerS,
            ["burst_wall_s"] = D(r, "burst", "wall_s"),
            ["burst_ok"] = B(r, "burst", "verify", "ok"),
            ["server_cpu_s_per_job"] = cpuPerJob,
            ["server_reaped_children_cpu_s_per_job"] = D(r, "burst", "server_reaped_children_cpu_s_per_job"),
            ["server_idle_cpu_pct_of_one_core"] = D(r, "idle_cpu", "pct_of_one_core"),
            ["burst_server_side_jobs_per_s"] = D(r, "burst", "profile", "server_side_jobs_per_s"),
            ["rss_idle_mb"] = D(r, "rss_mb", "idle", "vm_rss_mb"),
            ["rss_idle_private_mb"] = D(r, "rss_mb", "idle", "private_mb"),
            ["rss_peak_mb"] = D(r, "burst", "rss", "peak_vm_rss_mb"),
            ["rss_peak_private_mb"] = D(r, "burst", "rss", "peak_private_mb"),
            ["rss_hwm_mb"] = D(r, "rss_mb", "vm_hwm_mb"),
            ["rss_idle_after_mb"] = D(r, "rss_mb", "idle_after", "vm_rss_mb"),
            ["start_api_ready_s"] = ready,
            ["start_healthz_s"] = D(r, "startup", "dll", "existing_db", "healthz_s", "median"),
            ["start_api_ready_single_file_s"] = readySingle,
            ["first_start_new_db_s"] = D(r, "startup", "dll", "first_start_new_db", "api_ready_s"),
            ["floor"] = new JsonObject
            {
                ["date_start_to_ran_p50_ms"] = dateFloor,
                ["server_chain_date_start_to_ran_p50_ms"] = chainFloor,
                ["server_chain_true_parallel_per_s"] = chainPerS,
                ["server_chain_true_cpu_ms_per_exec"] = chainCpuMs is { } c ? Math.Round(c, 2) : null,
                ["bash_c_true_wall_p50_ms"] = D(r, "baseline", "bash_c_true", "wall_ms", "p50"),
                ["bin_true_wall_p50_ms"] = D(r, "baseline", "bin_true", "wall_ms", "p50"),
            },
            ["ratios"] = new JsonObject
            {
                ["pickup_p50_over_date_floor"] = Ratio(pickupP50, dateFloor, 1),
                ["pickup_p50_over_server_chain_floor"] = Ratio(pickupP50, chainFloor, 1),
                ["burst_jobs_per_s_over_chain_parallel_floor"] = Ratio(jobsPerS, chainPerS, 3),
                ["server_cpu_per_job_over_chain_cpu"] = Ratio(cpuPerJob * 1000, chainCpuMs, 1),
            },
            ["noisy"] = new JsonObject
            {
                ["baseline"] = B(r, "baseline", "host_cpu", "noisy"),
                ["startup_dll"] = B(r, "startup", "dll", "host_cpu", "noisy"),
                ["startup_single_file"] = B(r, "startup", "single_file", "host_cpu", "noisy"),
                ["latency"] = B(r, "latency", "host_cpu", "noisy"),
                ["burst"] = B(r, "burst", "host_cpu", "noisy"),
            },
            ["targets"] = targets,
        };
    }

    /// <summary>The Buildbot peer's headline figures (from its run.sh JSON), for the side-by-side.</summary>
    public static JsonObject Buildbot(string path)
    {
        var doc = JsonNode.Parse(File.ReadAllText(path))!;
        var result = new JsonObject { ["file"] = path, ["version"] = doc["version"]?.DeepClone() };
        foreach (var run in doc["runs"]?.AsArray() ?? [])
        {
            var builds = D(run, "throughput", "builds");
            result["w" + run?["workers"]] = new JsonObject
            {
                ["builds_per_s"] = D(run, "throughput", "builds_per_s"),
                ["master_cpu_s_per_build"] = Ratio(D(run, "throughput", "master_cpu_s"), builds, 3),
                ["pickup_p50_ms"] = D(run, "latency", "pickup_ms", "p50"),
                ["pickup_p95_ms"] = D(run, "latency", "pickup_ms", "p95"),
                ["turnaround_p50_ms"] = D(run, "latency", "turnaround_ms", "p50"),
                ["post_response_p50_ms"] = D(run, "latency", "post_response_ms", "p50"),
                ["rss_idle_mb"] = D(run, "rss_mb", "idle"),
                ["rss_peak_mb"] = D(run, "rss_mb", "load_peak_sampled"),
                ["rss_hwm_mb"] = D(run, "rss_mb", "hwm"),
                ["startup_api_ready_s"] = D(run, "startup", "api_ready_s"),
                ["noisy_latency"] = B(run, "latency", "host_cpu", "noisy"),
                ["noisy_throughput"] = B(run, "throughput", "host_cpu", "noisy"),
            };
        }
        return result;
    }
}
