using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>The fleet's timeline: heartbeat latency, server CPU and threads per 10 s bucket, and error descriptions.</summary>
internal sealed partial class FleetBench
{
    /// <summary>Heartbeat latency by when it was sent (10 s buckets from the window's start), to tell start-up from steady state.</summary>
    private JsonArray Timeline() => new([.. _heartbeatTimeline.OrderBy(b => b.Key).Select(b => (JsonNode)new JsonObject
    {
        ["from_s"] = b.Key,
        ["server_cpu_pct_of_one_core"] = BucketCpu(b.Key),
        ["server_threads_max"] = _serverSamples.Where(x => x.Second / BucketSeconds * BucketSeconds == b.Key).Select(x => x.Threads).DefaultIfEmpty(-1).Max(),
        ["burst_started"] = Volatile.Read(ref _burstStart) != 0 && b.Key >= BurstAtSeconds,
        ["n"] = b.Value.Count,
        ["p50_ms"] = Timings.Round(b.Value.Percentile(50)),
        ["p99_ms"] = Timings.Round(b.Value.Percentile(99)),
    })]);

    /// <summary>The server's CPU (utime+stime) over a 10 s bucket, from the once-a-second samples, as % of one core.</summary>
    private double BucketCpu(int from)
    {
        var inside = _serverSamples.Where(x => x.Second >= from && x.Second <= from + BucketSeconds).OrderBy(x => x.Second).ToList();
        if (inside.Count < 2) return -1;
        return Math.Round(100 * (inside[^1].CpuSeconds - inside[0].CpuSeconds) / Math.Max(1, inside[^1].Second - inside[0].Second), 1);
    }

    private static int Threads(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Threads:", StringComparison.Ordinal));
            return line is null ? -1 : int.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static string Describe(Exception e) => e.InnerException is { } inner ? $"{e.Message} ({inner.GetType().Name}: {inner.Message})" : e.Message;
}
