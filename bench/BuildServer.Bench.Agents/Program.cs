using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Bench.Agents;

// Remote agents benchmark (issue 6); one JSON document on stdout, progress on stderr. Knobs (environment):
// BENCH_PHASES (pickup,fleet,logs), BENCH_SERVER_DLL, BENCH_PICKUP_JOBS (100 per agent), BENCH_AGENTS (2000),
// BENCH_WINDOW (120 s), BENCH_BURST (1000 jobs), BENCH_BASELINE (40 s of /healthz), BENCH_HTTP2 (0), BENCH_JOBS_PER_RUN (1: the burst is one-job runs),
// BENCH_LOG_LINES (1000000 lines of 100 bytes), BENCH_TAIL_READS (20), BENCH_LOG_POLL_MS (50), BENCH_KEEP (1 keeps the data folders).
// JSON has no NaN or infinity: a figure without a value (no samples, a ratio over nothing) is written as -1.
static void Finite(JsonNode? node)
{
    if (node is JsonObject o)
    {
        foreach (var (key, value) in o.ToList())
        {
            if (value is JsonValue v && v.TryGetValue<double>(out var d) && !double.IsFinite(d)) o[key] = -1;
            else Finite(value);
        }
    }
    else if (node is JsonArray a)
    {
        foreach (var item in a) Finite(item);
    }
}

static int Knob(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable("BENCH_" + name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

var phases = (Environment.GetEnvironmentVariable("BENCH_PHASES") is { Length: > 0 } p ? p : "pickup,fleet,logs")
    .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
ThreadPool.SetMinThreads(Math.Max(16, Environment.ProcessorCount * 4), Math.Max(16, Environment.ProcessorCount * 4));

var result = new JsonObject
{
    ["bench"] = "agents",
    ["started_utc"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    ["dotnet"] = Environment.Version.ToString(),
    ["nproc"] = Environment.ProcessorCount,
    ["uptime_before"] = MachineLoad.Uptime(),
};
var errors = new JsonArray();
async Task Phase(string name, Func<Task<JsonObject>> body)
{
    if (!phases.Contains(name) || stop.IsCancellationRequested) return;
    Log.Info($"phase {name} ({MachineLoad.Uptime()})");
    try
    {
        result[name] = await body();
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        Log.Info($"phase {name} failed: {e}");
        errors.Add($"{name}: {e.GetType().Name}: {e.Message}");
    }
}

await Phase("pickup", () => PickupBench.RunAsync(Knob("PICKUP_JOBS", 100), warmup: 5, stop.Token));
await Phase("fleet", () => new FleetBench(Knob("AGENTS", 2000), Knob("WINDOW", 120), Knob("BURST", 1000), Knob("BASELINE", 40),
    Knob("HTTP2", 0) == 1, Math.Clamp(Knob("JOBS_PER_RUN", 1), 1, 100)).RunAsync(stop.Token));
await Phase("logs", () => LogsBench.RunAsync(Knob("LOG_LINES", 1_000_000), Knob("TAIL_READS", 20), Knob("LOG_POLL_MS", 50), stop.Token));

result["uptime_after"] = MachineLoad.Uptime();
Finite(result);
if (errors.Count > 0) result["errors"] = errors;
Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
return errors.Count == 0 && !stop.IsCancellationRequested ? 0 : 1;
