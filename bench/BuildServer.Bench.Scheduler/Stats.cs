using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Scheduler;

/// <summary>Per-call timings in microseconds and their percentiles (linear interpolation, numpy's default).</summary>
internal sealed class Timings
{
    private readonly List<double> _us = [];

    public int Count => _us.Count;

    public void Add(long startTimestamp) => _us.Add(Stopwatch.GetElapsedTime(startTimestamp).TotalMicroseconds);

    public void AddMicroseconds(double us) => _us.Add(us);

    public double Percentile(double p)
    {
        if (_us.Count == 0) return double.NaN;
        var sorted = _us.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public JsonObject ToJson() => new()
    {
        ["n"] = _us.Count,
        ["p50_us"] = Round(Percentile(50)),
        ["p95_us"] = Round(Percentile(95)),
        ["p99_us"] = Round(Percentile(99)),
        ["mean_us"] = Round(_us.Count == 0 ? double.NaN : _us.Average()),
        ["max_us"] = Round(_us.Count == 0 ? double.NaN : _us.Max()),
    };

    public static double Round(double value) => double.IsNaN(value) ? -1 : Math.Round(value, value < 10 ? 3 : 1);

    /// <summary>How many times the p50 of <paramref name="measured"/> is the p50 of <paramref name="baseline"/>.</summary>
    public static double Ratio(Timings measured, Timings baseline) => Math.Round(measured.Percentile(50) / baseline.Percentile(50), 2);
}

/// <summary>Progress on stderr (stdout carries only the JSON document).</summary>
internal static class Log
{
    public static void Info(string message) =>
        Console.Error.WriteLine($"[scheduler-bench {DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");
}

/// <summary>
/// How busy the machine was around a phase: the load average before and after, and the whole machine's CPU
/// (from <c>/proc/stat</c>) beside this process's own (<c>/proc/self/stat</c>), as % of all cores. Other
/// engineers build on the same 2-core machine; a phase whose foreign CPU is over 10 % is flagged noisy.
/// </summary>
internal sealed class MachineLoad
{
    private readonly string _loadBefore = LoadAverage();
    private readonly (long Busy, long Total) _host = Host();
    private readonly double _ownCpu = OwnCpuSeconds();
    private readonly long _start = Stopwatch.GetTimestamp();

    /// <param name="alsoUnderTest">CPU seconds of other processes that are part of the system under test (PostgreSQL).</param>
    public JsonObject Stop(double alsoUnderTest = 0)
    {
        var host = Host();
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        var busyPct = 100.0 * (host.Busy - _host.Busy) / Math.Max(1, host.Total - _host.Total);
        var ownPct = 100.0 * (OwnCpuSeconds() - _ownCpu + alsoUnderTest) / (wall * Environment.ProcessorCount);
        var foreign = Math.Max(0, busyPct - ownPct);
        return new JsonObject
        {
            ["loadavg_before"] = _loadBefore,
            ["loadavg_after"] = LoadAverage(),
            ["host_busy_pct"] = Math.Round(busyPct, 1),
            ["under_test_cpu_pct"] = Math.Round(ownPct, 1),
            ["foreign_cpu_pct"] = Math.Round(foreign, 1),
            ["noisy"] = foreign > 10,
            ["wall_s"] = Math.Round(wall, 1),
        };
    }

    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static (long Busy, long Total) Host()
    {
        var v = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).Concat(Enumerable.Repeat(0L, 8)).Take(8).ToArray();
        var busy = v[0] + v[1] + v[2] + v[5] + v[6]; // user nice system irq softirq
        return (busy, busy + v[3] + v[4] + v[7]);
    }

    private static double OwnCpuSeconds() => ProcessCpuSeconds("self");

    /// <summary>utime + stime of a process (and, with <paramref name="children"/>, of what it reaped), in seconds.</summary>
    public static double ProcessCpuSeconds(string pid, bool children = false)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            double F(int field) => long.Parse(fields[field - 3], CultureInfo.InvariantCulture) / 100.0;
            return F(14) + F(15) + (children ? F(16) + F(17) : 0);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
