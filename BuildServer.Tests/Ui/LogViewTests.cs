using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// The log view (<c>/jobs/{id}</c>) in a real browser against the real server. One server, seeded once: a job that
/// prints colours, groups and three steps and fails (retried once, so it has two attempts), a job whose log is about
/// 20 MB, and a job that prints a numbered line every 50 ms for as long as the fixture runs (cancelled at the end).
/// Users: mia (member of acme, whose runs these are), dora (member of acme, for the dark screenshot), olga (member of
/// another organisation only).
/// </summary>
[NonParallelizable]
public sealed partial class LogViewTests
{
    private const int BigLines = 180_000;
    private const int NeedleLine = 60_000;
    private const string Needle = "needle-in-the-haystack";

    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private long _coloursJob;
    private long _bigJob;
    private long _tickJob;
    private long _tickRun;
    private readonly Dictionary<string, string> _sessions = [];
    private readonly List<IBrowserContext> _contexts = [];

    // The colours job: each step's output; the last step fails, and the job is tried twice.
    private const string ColoursPipeline = """
        name: ci
        jobs:
          build:
            retry: { max-attempts: 2, backoff: fixed, delay: 1s }
            steps:
              - name: Install
                run: |
                  echo "Installing dependencies"
                  printf '\033[32mrestored 42 packages\033[0m\n'
              - name: Compile
                run: |
                  echo "::group::Compile sources"
                  for f in app lib util; do echo "cc $f.c"; done
                  echo "::endgroup::"
                  printf '\033[1;33mwarning:\033[0m unused variable \033[1mx\033[0m\n'
                  printf '\033[31merror: disk almost full\033[0m (not really)\n'
                  printf '\033[38;5;208mcolour 208\033[0m \033[38;2;120;80;200mtrue colour\033[0m \033[44;97m on blue \033[0m\n'
                  printf '\033[4munderlined\033[0m \033[3mitalic\033[0m \033[2K\033[1Gcursor codes gone\n'
              - name: Test
                run: |
                  echo "::group::Run 3 tests"
                  echo "test a ... ok"
                  echo "test b ... ok"
                  printf 'test c ... \033[31mFAILED\033[0m\n'
                  echo "::endgroup::"
                  echo "1 of 3 tests failed"
                  exit 1
        """;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Agent:Slots=4");
        _browser = await Browser.LaunchAsync();
        var acme = await UiPages.CreateOrgAsync(_server, "acme");
        var other = await UiPages.CreateOrgAsync(_server, "other");
        await UiPages.CreateProjectAsync(_server, "shop", "acme");
        await UiPages.CreateUserAsync(_server, "mia", "mia-password", roles: new() { [$"{acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "dora", "dora-password", roles: new() { [$"{acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "olga", "olga-password", roles: new() { [$"{other}"] = "member" });

        using var api = _server.Client();
        var big = await api.TriggerRunAsync("shop",
            "name: big\njobs:\n  big:\n    steps:\n      - name: Generate\n        run: |\n" +
            $"          seq -f '%010g {Filler}' 1 {NeedleLine - 1}\n" +
            $"          echo '{Needle}'\n" +
            $"          seq -f '%010g {Filler}' {NeedleLine + 1} {BigLines}\n");
        var colours = await api.TriggerRunAsync("shop", ColoursPipeline);
        _tickRun = await api.TriggerRunAsync("shop",
            "name: live\njobs:\n  tick:\n    steps:\n      - name: Tick\n        run: for i in $(seq 1 20000); do echo \"tick $i\"; sleep 0.05; done\n");
        _coloursJob = JobOf(await api.WaitForRunAsync(colours, TimeSpan.FromSeconds(60), "failed"));
        _bigJob = JobOf(await api.WaitForRunAsync(big, TimeSpan.FromSeconds(120), "succeeded"));
        _tickJob = JobOf(await api.GetRunAsync(_tickRun));
        await Eventually.Until(() => api.JobLogAsync(_tickJob, "?tail=1"), log => log.Contains("tick ", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the ticking job to print");
    }

    private const string Filler = "the quick brown fox jumps over the lazy dog, then the lazy dog sleeps in the sun";

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        using (var api = _server.Client()) await api.Http.PostAsync($"runs/{_tickRun}/cancel", null);
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
    }

    private static long JobOf(JsonNode run) => run["jobs"]!.AsArray().Single()!["id"]!.GetValue<long>();

    /// <summary>A signed-in page (a new browser context) on the log view of the job, once its tail is shown.</summary>
    private async Task<IPage> OpenAsync(long jobId, string user = "mia", string query = "")
    {
        var page = await SignedInAsync(user);
        await page.GotoAsync($"jobs/{jobId}{query}");
        await ReadyAsync(page);
        return page;
    }

    /// <summary>A new browser context (cookies of its own) with the user's session, signed in once per fixture.</summary>
    private async Task<IPage> SignedInAsync(string user)
    {
        if (!_sessions.TryGetValue(user, out var session))
        {
            var page = await _browser.NewPageAsync(_server);
            await UiPages.SignInAsync(page, user, user + "-password");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
            _sessions[user] = session = await page.Context.StorageStateAsync();
            await page.Context.CloseAsync();
        }
        var context = await _browser.Chromium.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = _server.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
            TimezoneId = "UTC",
            Locale = "en-GB",
            StorageState = session,
        });
        context.SetDefaultTimeout(30_000);
        _contexts.Add(context);
        return await context.NewPageAsync();
    }

    /// <summary>A test's pages close with it: an open log view of the ticking job would render for the rest of the fixture.</summary>
    [TearDown]
    public async Task CloseContextsAsync()
    {
        foreach (var context in _contexts) await context.CloseAsync();
        _contexts.Clear();
    }

    private static async Task ReadyAsync(IPage page)
    {
        await UiPages.InteractiveAsync(page);
        await Expect(page.Locator("[data-test=log][data-ready=true]")).ToBeAttachedAsync();
    }

    private static ILocator Log(IPage page) => page.Locator("[data-test=log]");

    private static ILocator Lines(IPage page) => page.Locator("[data-test=log-line]");

    private static ILocator Line(IPage page, long number) => page.Locator($"#L{number}");

    /// <summary>The numbers of the "tick N" lines rendered, in document order.</summary>
    private static async Task<long[]> TicksAsync(IPage page) =>
        (await page.EvalOnSelectorAllAsync<string[]>("[data-test=log-line] .bs-txt", "els => els.map(e => e.textContent)"))
        .Select(t => TickRegex().Match(t)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [GeneratedRegex(@"^tick (\d+)$")]
    private static partial Regex TickRegex();

    /// <summary>The line numbers of the rows inside the log's viewport.</summary>
    private static Task<long[]> LinesInViewAsync(IPage page) => page.EvalOnSelectorAsync<long[]>("[data-test=log]", """
        log => {
            const box = log.getBoundingClientRect();
            return [...log.querySelectorAll('[data-test=log-line]')]
                .filter(e => { const r = e.getBoundingClientRect(); return r.bottom > box.top + 1 && r.top < box.bottom - 1; })
                .map(e => Number(e.dataset.key.slice(1)));
        }
        """);

    /// <summary>The line numbers of every row rendered.</summary>
    private static Task<long[]> RenderedLinesAsync(IPage page) =>
        page.EvalOnSelectorAllAsync<long[]>("[data-test=log-line]", "els => els.map(e => Number(e.dataset.key.slice(1)))");

    /// <summary>The colour an element is painted with, as [r, g, b] (painted on a canvas: the computed value may be a
    /// color-mix() the browser keeps unresolved).</summary>
    private static Task<int[]> RgbAsync(ILocator element) => element.EvaluateAsync<int[]>("""
        e => {
            const c = document.createElement('canvas'); c.width = c.height = 1;
            const g = c.getContext('2d'); g.fillStyle = getComputedStyle(e).color; g.fillRect(0, 0, 1, 1);
            return [...g.getImageData(0, 0, 1, 1).data.slice(0, 3)];
        }
        """);
}
