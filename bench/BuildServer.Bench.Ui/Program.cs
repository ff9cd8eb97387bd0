using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Bench.Agents;
using BuildServer.Bench.Ui;

// Web UI benchmark (issue 8); one JSON document on stdout, progress on stderr. Knobs (environment):
// BENCH_SERVER_DLL, BENCH_RUNS (5 timed page opens of each kind, interleaved with their baseline, after 1 warm-up),
// BENCH_LOG_MB (100: the big log's size), BENCH_VIEWS (50 open log views for the memory figure), BENCH_LATENCY_LINES
// (40 lines timed from the server to an open log view), BENCH_LOG_ONLY (1 skips the run page), BENCH_KEEP (1 keeps
// the server's data folder). JSON has no NaN: a figure without a value is written as -1.
static int Knob(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable("BENCH_" + name), CultureInfo.InvariantCulture, out var v) ? v : fallback;

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

var result = new JsonObject
{
    ["bench"] = "ui",
    ["started_utc"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    ["dotnet"] = Environment.Version.ToString(),
    ["nproc"] = Environment.ProcessorCount,
    ["uptime_before"] = MachineLoad.Uptime(),
};
var status = 0;
try
{
    var bench = new UiBench(Knob("RUNS", 5), Knob("LOG_MB", 100), Knob("VIEWS", 50), Knob("LATENCY_LINES", 40), Knob("LOG_ONLY", 0) == 1);
    foreach (var (key, value) in await bench.RunAsync(stop.Token)) result[key] = value?.DeepClone();
}
catch (Exception e) when (e is not OperationCanceledException)
{
    Log.Info($"failed: {e}");
    result["error"] = $"{e.GetType().Name}: {e.Message}";
    status = 1;
}
result["uptime_after"] = MachineLoad.Uptime();
Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
return status;
