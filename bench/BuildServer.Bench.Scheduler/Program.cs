using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Bench.Scheduler;

// Scheduling decision, claim and fairness benchmark; one JSON document on stdout, progress on stderr.
// Knobs (environment): BENCH_PHASES (decision,claim_sqlite,claim_postgres,fairness), BENCH_QUEUED (100000,
// the in-memory decision), BENCH_ORGS (1000), BENCH_ITERATIONS (20000 decisions per agent), BENCH_CLAIMS
// (1000 timed claims per database), BENCH_POSTGRES, BENCH_SERVER_DLL and BENCH_DURATION (fairness, s), BENCH_HOP_SAMPLES
// (200 enqueue samples per series), BENCH_HOP_SCHEDULED (100 scheduled jobs per storage) and BENCH_HOP_DELAY (2 s).
// "hop-enqueue" as the argument: the hop bench's other node (HopEnqueuer), not a bench.
if (args is ["hop-enqueue"]) return await HopEnqueuer.RunAsync(Environment.GetEnvironmentVariable("BENCH_HOP_POSTGRES")!);

static int Knob(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable("BENCH_" + name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

var phases = (Environment.GetEnvironmentVariable("BENCH_PHASES") is { Length: > 0 } p ? p : "decision,claim_sqlite,claim_postgres,fairness,hop")
    .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
var orgs = Knob("ORGS", 1000);
using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

var result = new JsonObject
{
    ["bench"] = "scheduler",
    ["started_utc"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    ["dotnet"] = Environment.Version.ToString(),
    ["nproc"] = Environment.ProcessorCount,
    ["loadavg_before"] = MachineLoad.LoadAverage(),
};
var errors = new JsonArray();
async Task Phase(string name, Func<Task<JsonObject>> body)
{
    if (!phases.Contains(name) || stop.IsCancellationRequested) return;
    Log.Info($"phase {name}");
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

await Phase("decision", () =>
{
    var load = new MachineLoad();
    var r = DecisionBench.Run(Knob("QUEUED", 100_000), orgs, Knob("ITERATIONS", 20_000), warmup: 5_000);
    r["machine"] = load.Stop();
    return Task.FromResult(r);
});
await Phase("claim_sqlite", async () =>
{
    var dataDir = Directory.CreateTempSubdirectory("bssched-").FullName;
    try
    {
        var load = new MachineLoad();
        var r = await new ClaimBench(ClaimBench.Configuration(dataDir, null), orgs, Knob("CLAIMS", 1000), 100).RunAsync(stop.Token);
        r["machine"] = load.Stop();
        return r;
    }
    finally
    {
        Directory.Delete(dataDir, recursive: true);
    }
});
await Phase("claim_postgres", async () =>
{
    var dataDir = Directory.CreateTempSubdirectory("bssched-").FullName;
    await using var pg = await PgCluster.StartAsync();
    try
    {
        var db = await pg.CreateDatabaseAsync($"bench_sched_{DateTime.UtcNow:HHmmss}");
        var load = new MachineLoad();
        var pgCpu = pg.CpuSeconds();
        var r = await new ClaimBench(ClaimBench.Configuration(dataDir, db), orgs, Knob("CLAIMS", 1000), 100).RunAsync(stop.Token);
        r["machine"] = load.Stop(alsoUnderTest: pg.CpuSeconds() - pgCpu);
        return r;
    }
    finally
    {
        Directory.Delete(dataDir, recursive: true);
    }
});
await Phase("fairness", () => FairnessBench.RunAsync(Knob("DURATION", 120), stop.Token));
await Phase("hop", () => HopBench.RunAsync(Knob("HOP_SAMPLES", 200), Knob("HOP_SCHEDULED", 100),
    TimeSpan.FromSeconds(Knob("HOP_DELAY", 2)), stop.Token));

result["loadavg_after"] = MachineLoad.LoadAverage();
if (errors.Count > 0) result["errors"] = errors;
Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
return errors.Count == 0 && !stop.IsCancellationRequested ? 0 : 1;
