using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Bench.Agents;
using Microsoft.Playwright;

namespace BuildServer.Bench.Ui;

/// <summary>
/// The web UI's figures (issue 8), through a real server and Debian's Chromium:
/// <list type="bullet">
/// <item>the run page of a 200-job run (a 40-leg matrix and 16 layers of 10 jobs joined by <c>needs</c>) until its
/// circuit is connected and every job of the DAG is drawn, against the run page of a one-job run;</item>
/// <item>the log view of a job whose log is <c>logMb</c> MB until its tail is shown in a connected circuit, against
/// the log view of a one-line log;</item>
/// <item>the server's resident memory per connected circuit: <c>views</c> open log views of the big log, against as
/// many of the one-line log, each figure the growth of the server's RSS over the views divided by their number;</item>
/// <item>the live log's latency: from the moment the server stored a line to the moment it is in an open log view
/// (<see cref="LogLatency"/>).</item>
/// </list>
/// Every open is a new tab (a new circuit) of one signed-in browser context; the two kinds alternate, after a warm-up.
/// </summary>
internal sealed class UiBench(int runs, int logMb, int views, int latencyLines = 40, bool logOnly = false)
{
    private const string UserName = "bench";
    private const string Password = "bench-password-1";
    private const string ChromiumPath = "/usr/bin/chromium";
    private const int MatrixLegs = 40;
    private const int Layers = 16;
    private const int LayerWidth = 10;
    private const string LogText = "the quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet, consectetur";

    public async Task<JsonObject> RunAsync(CancellationToken ct)
    {
        if (!File.Exists(ChromiumPath)) throw new InvalidOperationException($"{ChromiumPath} is missing (apt-get install chromium; tools/test.sh does)");
        await using var server = await BenchServer.StartAsync("ui", ["--Agent:Slots=4"], ct);
        var admin = server.Admin;
        using (var user = await admin.PostAsJsonAsync("/api/v1/users", new { userName = UserName, password = Password, serverAdmin = true }, ct))
        {
            user.EnsureSuccessStatusCode();
        }
        await Runs.CreateProjectAsync(admin, "ui", ct);

        // A stored log line is "<timestamp> <text>\n": about 29 bytes more than the text.
        var lineBytes = 10 + 1 + LogText.Length + 29;
        var lines = Math.Max(1, logMb * 1_000_000L / lineBytes);
        Log.Info($"seeding: a {MatrixLegs + Layers * LayerWidth}-job run, a one-job run, a {lines}-line log, a one-line log");
        var wide = await TriggerAsync(admin, WideWorkflow(), ct);
        var single = await TriggerAsync(admin, "jobs:\n  one:\n    steps:\n      - run: \"true\"\n", ct);
        var bigLog = await TriggerAsync(admin, $"jobs:\n  log:\n    steps:\n      - run: seq -f '%010g {LogText}' 1 {lines}\n", ct);
        var smallLog = await TriggerAsync(admin, "jobs:\n  log:\n    steps:\n      - run: echo one line\n", ct);
        var seeded = Stopwatch.StartNew();
        var wideRun = await Runs.WaitFinishedAsync(admin, wide, 200, TimeSpan.FromMinutes(15), ct);
        var bigRun = await Runs.WaitFinishedAsync(admin, bigLog, 200, TimeSpan.FromMinutes(15), ct);
        foreach (var id in new[] { single, smallLog }) await Runs.WaitFinishedAsync(admin, id, 200, TimeSpan.FromMinutes(5), ct);
        Log.Info($"seeded in {seeded.Elapsed.TotalSeconds:0} s");
        var wideJobs = wideRun["jobs"]!.AsArray().Count;
        var bigJob = await FirstJobAsync(admin, bigLog, ct);
        var smallJob = await FirstJobAsync(admin, smallLog, ct);
        var logSize = await LogSizeAsync(admin, bigJob, ct);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.HttpUrl,
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        context.SetDefaultTimeout(60_000);
        await SignInAsync(context);

        var runPage = new PageTimings();
        var runPageBase = new PageTimings();
        var logView = new PageTimings();
        var logViewBase = new PageTimings();
        var load = new MachineLoad();
        var underTestCpu0 = server.CpuSeconds() + BrowserCpuSeconds(server.Pid);
        var firstOpen = double.NaN;
        for (var i = 0; i <= runs; i++)
        {
            var warmup = i == 0;
            if (!logOnly)
            {
                Record(warmup, runPageBase, await OpenRunPageAsync(context, single, 1));
                Record(warmup, runPage, await OpenRunPageAsync(context, wide, wideJobs));
            }
            Record(warmup, logViewBase, await OpenLogViewAsync(context, smallJob));
            var bigOpen = await OpenLogViewAsync(context, bigJob);
            if (warmup) firstOpen = bigOpen.Ms; // the first open of the big log scans it for its line index
            Record(warmup, logView, bigOpen);
            Log.Info($"iteration {i}{(warmup ? " (warm-up)" : "")}, p50 so far: run page {runPage.Total.Percentile(50):0} ms (base {runPageBase.Total.Percentile(50):0}), " +
                     $"log view {logView.Total.Percentile(50):0} ms (base {logViewBase.Total.Percentile(50):0})");
        }
        var timingLoad = load.Stop(server.CpuSeconds() + BrowserCpuSeconds(server.Pid) - underTestCpu0);

        var memoryBase = await MemoryAsync(server, context, smallJob, ct);
        var memory = await MemoryAsync(server, context, bigJob, ct);
        Log.Info($"live latency: {latencyLines} lines, one every 200 ms");
        var latency = await LogLatency.RunAsync(server, context, latencyLines, ct);

        return new JsonObject
        {
            ["server_version"] = server.Version,
            ["knobs"] = new JsonObject { ["runs"] = runs, ["log_mb"] = logMb, ["views"] = views, ["latency_lines"] = latencyLines, ["log_only"] = logOnly },
            ["run_page"] = new JsonObject
            {
                ["jobs"] = wideJobs,
                ["interactive"] = runPage.ToJson(),
                ["baseline_one_job_run"] = runPageBase.ToJson(),
                ["ratio_p50"] = Timings.Ratio(runPage.Total, runPageBase.Total),
            },
            ["log_view"] = new JsonObject
            {
                ["log_bytes"] = logSize,
                ["log_lines"] = lines,
                ["interactive_at_tail"] = logView.ToJson(),
                ["first_open_ms"] = Timings.Round(firstOpen),
                ["baseline_one_line_log"] = logViewBase.ToJson(),
                ["ratio_p50"] = Timings.Ratio(logView.Total, logViewBase.Total),
                ["live_latency"] = latency,
            },
            ["timing_load"] = timingLoad,
            ["memory_per_circuit"] = new JsonObject
            {
                ["views"] = views,
                ["big_log_views"] = memory,
                ["baseline_one_line_log_views"] = memoryBase,
            },
        };
    }

    private static void Record(bool warmup, PageTimings timings, Opened opened)
    {
        if (!warmup) timings.Add(opened);
    }

    /// <summary>The timed opens of one page: the whole times, and each phase's time since the navigation started.</summary>
    private sealed class PageTimings
    {
        private readonly Dictionary<string, Timings> _phases = [];

        public Timings Total { get; } = new();

        public void Add(Opened opened)
        {
            Total.AddMs(opened.Ms);
            foreach (var (name, ms) in opened.Phases)
            {
                if (!_phases.TryGetValue(name, out var timings)) _phases[name] = timings = new Timings();
                timings.AddMs(ms);
            }
        }

        public JsonObject ToJson()
        {
            var json = Total.ToJson();
            var phases = new JsonObject();
            foreach (var (name, timings) in _phases.OrderBy(p => p.Value.Percentile(50))) phases[name] = Timings.Round(timings.Percentile(50));
            json["phases_p50_ms"] = phases;
            return json;
        }
    }

    private static string WideWorkflow()
    {
        var yaml = new StringBuilder("name: wide\njobs:\n");
        yaml.Append("  build:\n    strategy:\n      matrix:\n        os: [a, b, c, d, e]\n        version: [1, 2, 3, 4, 5, 6, 7, 8]\n");
        yaml.Append("    steps:\n      - run: \"true\"\n");
        for (var layer = 1; layer <= Layers; layer++)
        {
            for (var j = 0; j < LayerWidth; j++)
            {
                var needs = layer == 1 ? "[build]" : $"[l{layer - 1}_{j}, l{layer - 1}_{(j + 1) % LayerWidth}]";
                yaml.Append(CultureInfo.InvariantCulture, $"  l{layer}_{j}:\n    needs: {needs}\n    steps:\n      - run: \"true\"\n");
            }
        }
        return yaml.ToString();
    }

    private static async Task<long> TriggerAsync(HttpClient admin, string pipeline, CancellationToken ct) =>
        (await Runs.TriggerAsync(admin, "ui", pipeline, ct))["id"]!.GetValue<long>();

    private static async Task<long> FirstJobAsync(HttpClient admin, long runId, CancellationToken ct)
    {
        var run = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/runs/{runId}", ct))!;
        var job = run["jobs"]!.AsArray()[0]!;
        if (job["status"]!.GetValue<string>() != "succeeded") throw new InvalidOperationException($"the seeding job of run {runId} did not succeed: {job.ToJsonString()}");
        return job["id"]!.GetValue<long>();
    }

    private static async Task<long> LogSizeAsync(HttpClient admin, long jobId, CancellationToken ct)
    {
        using var response = await admin.GetAsync($"/api/v1/jobs/{jobId}/log?tail=1", ct);
        response.EnsureSuccessStatusCode();
        return long.Parse(response.Headers.GetValues("X-Log-Size").First(), CultureInfo.InvariantCulture);
    }

    private static async Task SignInAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.Locator("#username").FillAsync(UserName);
        await page.Locator("#password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/signin", StringComparison.Ordinal));
        await page.CloseAsync();
    }

    /// <summary>A new tab to the run page until its circuit is connected and all <paramref name="jobs"/> of the DAG are drawn.</summary>
    private static Task<Opened> OpenRunPageAsync(IBrowserContext context, long runId, int jobs) =>
        InNewTabAsync(context, page => OpenAsync(page, $"/runs/{runId}",
            ("connected", Connected),
            ("dag_drawn", $"document.querySelectorAll('[data-test=dag-job]').length === {jobs}")));

    /// <summary>A new tab to the job's log view until its circuit is connected and the log's tail is shown.</summary>
    private static Task<Opened> OpenLogViewAsync(IBrowserContext context, long jobId) =>
        InNewTabAsync(context, page => OpenLogAsync(page, jobId));

    private static async Task<Opened> InNewTabAsync(IBrowserContext context, Func<IPage, Task<Opened>> open)
    {
        var page = await context.NewPageAsync();
        try
        {
            return await open(page);
        }
        finally
        {
            await page.CloseAsync(new PageCloseOptions { RunBeforeUnload = true });
        }
    }

    private static Task<Opened> OpenLogAsync(IPage page, long jobId) =>
        OpenAsync(page, $"/jobs/{jobId}",
            ("connected", Connected),
            ("log_ready", "document.querySelector('[data-test=log][data-ready=true]') !== null"),
            ("tail_visible", """
                (() => {
                    const lines = document.querySelectorAll('[data-test=log-line]');
                    const last = lines[lines.length - 1];
                    if (!last || !last.checkVisibility()) return false;
                    const box = last.getBoundingClientRect();
                    return box.width > 0 && box.height > 0 && box.bottom <= window.innerHeight && box.top >= 0;
                })()
                """));

    /// <summary>The layout says its circuit is connected (the page is interactive).</summary>
    private const string Connected = "document.querySelector('.mud-layout[data-interactive=true]') !== null";

    /// <summary>One timed open: the whole time from the navigation, and its phases (ms since the navigation started, in the page's clock).</summary>
    private sealed record Opened(double Ms, Dictionary<string, double> Phases);

    /// <summary>
    /// The CPU seconds of the browser: every live process descended from this one (Playwright's driver, Chromium and
    /// its renderers) except the server's tree, each with what it reaped, so closed tabs' renderers still count.
    /// </summary>
    private static double BrowserCpuSeconds(int serverPid)
    {
        var processes = new Dictionary<int, MachineLoad.ProcessStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) &&
                MachineLoad.ReadStat(pid.ToString(CultureInfo.InvariantCulture)) is { } stat)
                processes[pid] = stat;
        }
        bool Under(int pid, int ancestor)
        {
            for (var p = pid; p > 1 && processes.TryGetValue(p, out var stat); p = stat.Parent)
                if (p == ancestor) return true;
            return false;
        }
        var self = Environment.ProcessId;
        return processes
            .Where(p => p.Key != self && Under(p.Key, self) && !Under(p.Key, serverPid))
            .Sum(p => p.Value.CpuSeconds + p.Value.ReapedCpuSeconds);
    }

    /// <summary>
    /// Goes to <paramref name="url"/> and waits until every phase's check (a JavaScript expression evaluated in the
    /// page) was true, in order, checked on every animation frame. The time is taken from the navigation until the
    /// wait returns; then the page is asked when each phase first held (ms since the navigation started), with
    /// <c>html</c>: when the server's (prerendered) page had arrived. Playwright's assertions retry after 100, 250,
    /// 500 and 1000 ms, which would round each time up to the next retry; checks on every frame are within a frame.
    /// </summary>
    private static async Task<Opened> OpenAsync(IPage page, string url, params (string Name, string Check)[] phases)
    {
        var checks = string.Join(",\n", phases.Select(p => $"[{JsonValue.Create(p.Name).ToJsonString()}, () => {p.Check}]"));
        var condition = $$"""
            () => {
                const seen = (window.__benchPhases ??= {});
                for (const [name, check] of [{{checks}}]) {
                    if (name in seen) continue;
                    if (!check()) return false;
                    seen[name] = performance.now();
                }
                return true;
            }
            """;
        var started = Stopwatch.GetTimestamp();
        await page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Commit });
        var done = await page.WaitForFunctionAsync(condition, null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await done.DisposeAsync();
        var times = await page.EvaluateAsync<Dictionary<string, double>>(
            "() => ({ html: performance.getEntriesByType('navigation')[0].responseEnd, ...window.__benchPhases })");
        return new Opened(ms, times);
    }

    /// <summary>
    /// The server's RSS settled with no page open, then with <c>views</c> log views of the job open (each its own tab
    /// and circuit, opened one after another); the growth per view. The tabs are closed again at the end.
    /// </summary>
    private async Task<JsonObject> MemoryAsync(BenchServer server, IBrowserContext context, long jobId, CancellationToken ct)
    {
        var before = await SettledRssAsync(server.Pid, ct);
        var pages = new List<IPage>();
        try
        {
            for (var i = 0; i < views; i++)
            {
                var page = await context.NewPageAsync();
                pages.Add(page);
                await OpenLogAsync(page, jobId);
            }
            var open = await SettledRssAsync(server.Pid, ct);
            Log.Info($"memory, job {jobId}: {before:0.0} MB before, {open:0.0} MB with {views} log views");
            return new JsonObject
            {
                ["rss_before_mb"] = Timings.Round(before),
                ["rss_with_views_mb"] = Timings.Round(open),
                ["per_circuit_mb"] = Timings.Round((open - before) / views),
            };
        }
        finally
        {
            foreach (var page in pages) await page.CloseAsync(new PageCloseOptions { RunBeforeUnload = true });
        }
    }

    /// <summary>The median of 5 samples of the server's RSS, 0.5 s apart, after 5 s without activity from the bench.</summary>
    private static async Task<double> SettledRssAsync(int pid, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(5), ct);
        var samples = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            samples.Add(MachineLoad.StatusMb(pid));
            await Task.Delay(500, ct);
        }
        return samples.Order().ElementAt(samples.Count / 2);
    }
}
