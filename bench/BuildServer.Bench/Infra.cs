using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>Progress lines on stderr (stdout carries only the JSON document).</summary>
internal static class Log
{
    public static void Info(string message) =>
        Console.Error.WriteLine($"[bench {DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");
}

internal static class Clock
{
    /// <summary>Wall clock (CLOCK_REALTIME) in Unix seconds: the clock <c>date +%s.%N</c> reads.</summary>
    public static double UnixNow() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds;

    public static double Unix(DateTimeOffset at) => (at.UtcDateTime - DateTime.UnixEpoch).TotalSeconds;

    public static double Since(long stopwatchTimestamp) => Stopwatch.GetElapsedTime(stopwatchTimestamp).TotalSeconds;
}

internal static partial class Native
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int KillNative(int pid, int signal);

    public static bool Signal(int pid, int signal) => KillNative(pid, signal) == 0;
}

/// <summary>CPU times of one process from <c>/proc/PID/stat</c>, in seconds.</summary>
internal readonly record struct ProcCpu(double User, double System, double ChildUser, double ChildSystem)
{
    private static readonly double Hz = 100.0; // USER_HZ: fixed at 100 for /proc on Linux

    public double Self => User + System;

    public double Children => ChildUser + ChildSystem;

    public double Total => Self + Children;

    public static ProcCpu? Read(int pid) => Read($"/proc/{pid}/stat");

    public static ProcCpu Own() => Read("/proc/self/stat") ?? default;

    private static ProcCpu? Read(string path)
    {
        try
        {
            var text = File.ReadAllText(path);
            // the command name (field 2) may hold spaces and parentheses: split after the last ')'
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14..17
            double F(int field) => long.Parse(fields[field - 3], CultureInfo.InvariantCulture) / Hz;
            return new ProcCpu(F(14), F(15), F(16), F(17));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

/// <summary>Memory of one process from <c>/proc/PID/status</c>, in kB.</summary>
internal readonly record struct ProcMem(long VmRss, long VmHwm, long RssAnon, long RssFile, long RssShmem)
{
    /// <summary>Memory only this process holds: anonymous + shared-memory pages (not the mapped files,
    /// e.g. the runtime's and the app's DLLs, that other processes can share).</summary>
    public long Private => RssAnon + RssShmem;

    public static ProcMem? Read(int pid)
    {
        try
        {
            long rss = 0, hwm = 0, anon = 0, file = 0, shmem = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                static long Kb(string l) => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb(line);
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kb(line);
                else if (line.StartsWith("RssShmem:", StringComparison.Ordinal)) shmem = Kb(line);
            }
            return rss == 0 ? null : new ProcMem(rss, hwm, anon, file, shmem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>Whole-machine CPU jiffies from the first line of <c>/proc/stat</c>.</summary>
internal readonly record struct HostCpu(long Busy, long Steal, long Total)
{
    public static HostCpu Read()
    {
        var first = File.ReadLines("/proc/stat").First();
        var v = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).Concat(Enumerable.Repeat(0L, 8)).Take(8).ToArray();
        // user nice system idle iowait irq softirq steal
        var busy = v[0] + v[1] + v[2] + v[5] + v[6];
        return new HostCpu(busy, v[7], busy + v[3] + v[4] + v[7]);
    }
}

/// <summary>
/// The noise check of the Buildbot peer's bench, per phase: whole-machine CPU over the phase minus the CPU of
/// everything this benchmark runs (servers with their reaped step processes, and the bench itself with what
/// it reaped) = foreign CPU; <c>noisy</c> when foreign &gt; 10 % of all cores or steal &gt; 5 %.
/// </summary>
internal sealed class NoiseWindow
{
    private readonly Func<double> _ownCpu;
    private readonly HostCpu _host0;
    private readonly double _own0;
    private readonly Dictionary<int, (string Name, double Cpu)> _procs0;

    public NoiseWindow(Func<double> ownCpu)
    {
        _ownCpu = ownCpu;
        _procs0 = AllProcesses();
        _own0 = ownCpu();
        _host0 = HostCpu.Read();
    }

    /// <summary>PIDs this bench started (servers), excluded from the foreign-process list.</summary>
    public static readonly HashSet<int> OwnPids = OwnPidsAtStart();

    private static HashSet<int> OwnPidsAtStart()
    {
        var pids = new HashSet<int> { Environment.ProcessId };
        if (int.TryParse(Environment.GetEnvironmentVariable("BENCH_POSTGRES_PID"), out var pg)) pids.Add(pg);
        return pids;
    }

    /// <summary>Every process's name and own CPU, to say who the foreign CPU was (processes that started and
    /// ended within the window are not seen).</summary>
    private static Dictionary<int, (string Name, double Cpu)> AllProcesses()
    {
        var all = new Dictionary<int, (string, double)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var text = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = text.IndexOf('(', StringComparison.Ordinal);
                var close = text.LastIndexOf(')');
                var f = text[(close + 2)..].Split(' ');
                var ppid = int.Parse(f[1], CultureInfo.InvariantCulture);
                if (OwnPids.Contains(ppid)) continue; // step processes of our servers, our own children
                double cpu = 0;
                // utime + stime only: a shell's cutime jumps when it reaps a long job, whenever that job ran
                for (var i = 11; i <= 12; i++) cpu += long.Parse(f[i], CultureInfo.InvariantCulture) / 100.0;
                all[pid] = (text[(open + 1)..close], cpu);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
            {
                // gone meanwhile
            }
        }
        return all;
    }

    /// <summary>The processes (not this bench's) that used the most CPU over the window, at least 0.2 s each.</summary>
    private JsonArray TopForeign()
    {
        var now = AllProcesses();
        var top = now.Where(kv => !OwnPids.Contains(kv.Key))
            .Select(kv => (Pid: kv.Key, kv.Value.Name, Cpu: kv.Value.Cpu - (_procs0.TryGetValue(kv.Key, out var before) ? before.Cpu : 0)))
            .Where(x => x.Cpu >= 0.2).OrderByDescending(x => x.Cpu).Take(4);
        return new JsonArray(top.Select(x => (JsonNode?)$"{x.Name} (pid {x.Pid}): {x.Cpu:F1} s").ToArray());
    }

    public JsonObject Finish()
    {
        var own = _ownCpu() - _own0;
        var h = HostCpu.Read();
        double dBusy = h.Busy - _host0.Busy, dSteal = h.Steal - _host0.Steal, dTotal = h.Total - _host0.Total;
        if (dTotal <= 0)
        {
            return new JsonObject { ["noisy"] = null };
        }
        const double hz = 100.0;
        var foreign = Math.Max(0, dBusy / hz - own);
        var wallCores = dTotal / hz;
        var foreignPct = Math.Round(100 * foreign / wallCores, 1);
        var stealPct = Math.Round(100 * dSteal / dTotal, 1);
        return new JsonObject
        {
            ["busy_pct_of_all_cores"] = Math.Round(100 * dBusy / dTotal, 1),
            ["steal_pct"] = stealPct,
            ["own_cpu_s"] = Math.Round(own, 2),
            ["foreign_cpu_pct_of_all_cores"] = foreignPct,
            ["cores"] = Environment.ProcessorCount,
            ["noisy"] = foreignPct > 10 || stealPct > 5,
            ["foreign_top"] = TopForeign(),
        };
    }

    /// <summary>Waits (up to <paramref name="maxSeconds"/>) until the machine is under 10 % busy over a 2 s
    /// window, as the peer's <c>--wait-idle</c> does; returns the last busy percentage seen.</summary>
    public static async Task<double?> WaitIdleAsync(double maxSeconds, Func<double> ownCpu, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            var own0 = ownCpu();
            var h0 = HostCpu.Read();
            await Task.Delay(2000, ct);
            var h1 = HostCpu.Read();
            var own = ownCpu() - own0;
            double dTotal = h1.Total - h0.Total;
            double? busy = dTotal > 0 ? Math.Round(100 * Math.Max(0, (h1.Busy - h0.Busy) / 100.0 - own) * 100 / dTotal, 1) : null;
            if (busy is null || busy < 10 || Clock.Since(start) >= maxSeconds)
            {
                if (busy >= 10)
                {
                    Log.Info($"WARNING: the machine is {busy:F0}% busy with other processes");
                }
                return busy;
            }
        }
    }
}

internal static class Stats
{
    /// <summary>Percentile with linear interpolation between closest ranks (numpy's default), q in 0..100.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double q)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) return double.NaN;
        var k = (v.Length - 1) * q / 100.0;
        var lo = (int)Math.Floor(k);
        var hi = Math.Min(lo + 1, v.Length - 1);
        return v[lo] + (v[hi] - v[lo]) * (k - lo);
    }

    public static double Median(IReadOnlyCollection<double> values) => Percentile(values, 50);

    /// <summary>{n, p50, p95, min, max, mean} in ms of values given in seconds (the peer's summary_ms).</summary>
    public static JsonObject? SummaryMs(IReadOnlyCollection<double> seconds)
    {
        if (seconds.Count == 0) return null;
        var ms = seconds.Select(s => s * 1000).ToArray();
        return new JsonObject
        {
            ["n"] = ms.Length,
            ["p50"] = Math.Round(Percentile(ms, 50), 1),
            ["p95"] = Math.Round(Percentile(ms, 95), 1),
            ["min"] = Math.Round(ms.Min(), 1),
            ["max"] = Math.Round(ms.Max(), 1),
            ["mean"] = Math.Round(ms.Average(), 1),
        };
    }

    /// <summary>Same in seconds with millisecond rounding (start-up times).</summary>
    public static JsonObject? SummaryS(IReadOnlyCollection<double> seconds)
    {
        if (seconds.Count == 0) return null;
        return new JsonObject
        {
            ["n"] = seconds.Count,
            ["median"] = Math.Round(Median(seconds), 3),
            ["min"] = Math.Round(seconds.Min(), 3),
            ["max"] = Math.Round(seconds.Max(), 3),
            ["values"] = new JsonArray(seconds.Select(s => (JsonNode?)Math.Round(s, 3)).ToArray()),
        };
    }

    public static double Mb(long kb) => Math.Round(kb / 1024.0, 1);
}
