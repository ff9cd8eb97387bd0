using System.Net;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>The running server the latency and burst phases drive, with its API client and bench project.</summary>
internal sealed class Session(ServerProcess server, Api api, string token, string project) : IDisposable
{
    public ServerProcess Server { get; } = server;
    public Api Api { get; } = api;
    public string Token { get; } = token;
    public string Project { get; } = project;

    /// <summary>How the runs list's <c>status</c> filter must be spelt (see <see cref="ProbeStatusFilterAsync"/>).</summary>
    public Func<string, string> StatusWord { get; private set; } = w => w;

    public List<string> Observations { get; } = [];

    /// <summary>Runs triggered on this server so far: how warm it is (.NET compiles hot paths as they are used),
    /// and how full its database is, when a phase starts.</summary>
    public int RunsTriggered;

    /// <summary>CPU of everything this benchmark runs: itself (with what it reaped, including stopped servers)
    /// and each live server with its reaped step processes.</summary>
    public static double OwnCpu() =>
        ProcCpu.Own().Total + ServerProcess.Running.Sum(s => ProcCpu.Read(s.Pid)?.Total ?? 0) + PostgresCpu();

    /// <summary>With <c>BENCH_POSTGRES_PID</c> (the postmaster's PID), the database server is part of the system
    /// under test: its CPU (with its live and reaped backends) counts as the bench's own, not as foreign.</summary>
    private static double PostgresCpu()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("BENCH_POSTGRES_PID"), out var pg)) return 0;
        var total = ProcCpu.Read(pg)?.Total ?? 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var text = File.ReadAllText(Path.Combine(dir, "stat"));
                var f = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                if (f[1] == pg.ToString(System.Globalization.CultureInfo.InvariantCulture)) total += ProcCpu.Read(pid)?.Self ?? 0;
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }
        return total;
    }

    public static bool IsFinished(string? status) =>
        status is "succeeded" or "failed" or "cancelled" or "skipped" or "timed_out" or "lost";

    /// <summary>The API writes statuses snake_case; the list filter should take the same words. If it refuses
    /// them, fall back to the enum's member names and note it.</summary>
    public async Task ProbeStatusFilterAsync(CancellationToken ct)
    {
        var status = await Api.StatusAsync("/api/v1/runs?status=queued&limit=1", ct);
        if (status == HttpStatusCode.OK) return;
        var pascal = await Api.StatusAsync("/api/v1/runs?status=Queued&limit=1", ct);
        if (pascal != HttpStatusCode.OK)
        {
            throw new BenchException($"GET /api/v1/runs?status=queued -> {(int)status}, ?status=Queued -> {(int)pascal}");
        }
        StatusWord = w => string.Concat(w.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
        Observations.Add($"GET /api/v1/runs?status=queued answers {(int)status}; only the C# enum names (status=Queued) are accepted, " +
                         "although the API writes statuses snake_case (the bench uses the enum names)");
        Log.Info("note: ?status=queued is refused; using ?status=Queued");
    }

    /// <summary>Runs not finished (queued + running + pending); "500+" counts as 500 per status.</summary>
    public async Task<int> CountNotFinishedAsync(CancellationToken ct)
    {
        var n = 0;
        foreach (var status in new[] { "queued", "running", "pending" })
        {
            var list = await Api.GetJsonAsync($"/api/v1/runs?status={StatusWord(status)}&limit=500", ct);
            n += list.AsArray().Count;
        }
        return n;
    }

    /// <summary>Every run of the bench project (pages of 500, newest first).</summary>
    public async Task<List<JsonNode>> ProjectRunsAsync(CancellationToken ct)
    {
        var all = new List<JsonNode>();
        long? before = null;
        while (true)
        {
            var page = (await Api.GetJsonAsync($"/api/v1/projects/{Project}/runs?limit=500" + (before is { } b ? $"&before={b}" : ""), ct)).AsArray();
            all.AddRange(page.Where(r => r is not null)!);
            if (page.Count < 500) return all;
            before = Json.Long(page[^1], "id");
        }
    }

    /// <summary>Median of 5 VmRSS (and private) samples 0.2 s apart after <paramref name="settleS"/>.</summary>
    public async Task<JsonObject> IdleRssAsync(double settleS, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(settleS), ct);
        List<double> rss = [], priv = [];
        for (var i = 0; i < 5; i++)
        {
            if (ProcMem.Read(Server.Pid) is { } m)
            {
                rss.Add(m.VmRss);
                priv.Add(m.Private);
            }
            await Task.Delay(200, ct);
        }
        return new JsonObject
        {
            ["vm_rss_mb"] = rss.Count > 0 ? Stats.Mb((long)Stats.Median(rss)) : null,
            ["private_mb"] = priv.Count > 0 ? Stats.Mb((long)Stats.Median(priv)) : null,
        };
    }

    /// <summary>The server's own CPU while nothing is asked of it (its timers and pollers), over <paramref name="seconds"/>.</summary>
    public async Task<JsonObject> IdleCpuAsync(double seconds, CancellationToken ct)
    {
        var a = ProcCpu.Read(Server.Pid);
        await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
        var b = ProcCpu.Read(Server.Pid);
        return new JsonObject
        {
            ["window_s"] = seconds,
            ["cpu_s"] = a is { } x && b is { } y ? Math.Round(y.Self - x.Self, 2) : null,
            ["pct_of_one_core"] = a is { } x2 && b is { } y2 ? Math.Round(100 * (y2.Self - x2.Self) / seconds, 1) : null,
        };
    }

    public void Dispose() => Api.Dispose();
}
