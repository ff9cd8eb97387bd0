using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>Timings in milliseconds and their percentiles (linear interpolation, numpy's default). Thread-safe adds.</summary>
internal sealed class Timings
{
    private readonly List<double> _ms = [];

    public int Count
    {
        get { lock (_ms) return _ms.Count; }
    }

    public void Add(long startTimestamp) => AddMs(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds);

    public void AddMs(double ms)
    {
        lock (_ms) _ms.Add(ms);
    }

    public double Percentile(double p)
    {
        double[] sorted;
        lock (_ms) sorted = [.. _ms.Order()];
        if (sorted.Length == 0) return double.NaN;
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public JsonObject ToJson()
    {
        double[] all;
        lock (_ms) all = [.. _ms];
        return new JsonObject
        {
            ["n"] = all.Length,
            ["p50_ms"] = Round(Percentile(50)),
            ["p95_ms"] = Round(Percentile(95)),
            ["p99_ms"] = Round(Percentile(99)),
            ["mean_ms"] = Round(all.Length == 0 ? double.NaN : all.Average()),
            ["max_ms"] = Round(all.Length == 0 ? double.NaN : all.Max()),
        };
    }

    /// <summary>Rounded to 3 decimals; -1 stands for "no value" (no samples, a ratio over nothing), as JSON has no NaN.</summary>
    public static double Round(double value) => double.IsFinite(value) ? Math.Round(value, 3) : -1;

    /// <summary>How many times the p50 of <paramref name="measured"/> is the p50 of <paramref name="baseline"/>.</summary>
    public static double Ratio(Timings measured, Timings baseline) => Round(measured.Percentile(50) / baseline.Percentile(50));
}

/// <summary>Progress on stderr (stdout carries only the JSON document).</summary>
internal static class Log
{
    public static void Info(string message) =>
        Console.Error.WriteLine($"[agents-bench {DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");
}

/// <summary>
/// How busy the machine was around a phase: the load average before and after, the whole machine's CPU (<c>/proc/stat</c>)
/// beside the CPU of this process and the processes under test, as % of all cores; over 10 % foreign is flagged noisy.
/// </summary>
internal sealed class MachineLoad
{
    private readonly string _loadBefore = LoadAverage();
    private readonly (long Busy, long Total) _host = Host();
    private readonly double _ownCpu = ProcessCpuSeconds("self");
    private readonly long _start = Stopwatch.GetTimestamp();

    public JsonObject Stop(double underTestCpuSeconds)
    {
        var host = Host();
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        var busyPct = 100.0 * (host.Busy - _host.Busy) / Math.Max(1, host.Total - _host.Total);
        var ownPct = 100.0 * (ProcessCpuSeconds("self") - _ownCpu + underTestCpuSeconds) / (wall * Environment.ProcessorCount);
        var foreign = Math.Max(0, busyPct - ownPct);
        return new JsonObject
        {
            ["loadavg_before"] = _loadBefore,
            ["loadavg_after"] = LoadAverage(),
            ["uptime_after"] = Uptime(),
            ["host_busy_pct"] = Math.Round(busyPct, 1),
            ["bench_and_under_test_cpu_pct"] = Math.Round(ownPct, 1),
            ["foreign_cpu_pct"] = Math.Round(foreign, 1),
            ["noisy"] = foreign > 10,
            ["wall_s"] = Math.Round(wall, 1),
        };
    }

    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    public static string Uptime()
    {
        using var p = Process.Start(new ProcessStartInfo("uptime") { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }

    private static (long Busy, long Total) Host()
    {
        var v = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).Concat(Enumerable.Repeat(0L, 8)).Take(8).ToArray();
        var busy = v[0] + v[1] + v[2] + v[5] + v[6]; // user nice system irq softirq
        return (busy, busy + v[3] + v[4] + v[7]);
    }

    /// <summary>utime + stime of a process (and, with <paramref name="children"/>, of what it reaped), in seconds.</summary>
    public static double ProcessCpuSeconds(string pid, bool children = false) =>
        ReadStat(pid) is { } stat ? stat.CpuSeconds + (children ? stat.ReapedCpuSeconds : 0) : 0;

    /// <summary>A process's parent, its CPU (utime + stime) and its reaped children's (cutime + cstime), in seconds.</summary>
    public readonly record struct ProcessStat(int Parent, double CpuSeconds, double ReapedCpuSeconds);

    /// <summary><c>/proc/PID/stat</c> read once; null when the process is gone.</summary>
    public static ProcessStat? ReadStat(string pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            double F(int field) => long.Parse(fields[field - 3], CultureInfo.InvariantCulture) / 100.0;
            return new ProcessStat(int.Parse(fields[1], CultureInfo.InvariantCulture), F(14) + F(15), F(16) + F(17));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary><c>VmRSS</c> (or another <c>/proc/PID/status</c> field) in MB; -1 when the process is gone.</summary>
    public static double StatusMb(int pid, string field = "VmRSS")
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return -1;
        }
    }
}
