using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// The run page in a real browser against the real server and its built-in agent: the DAG, live updates, the actions
/// and who sees them. One server (its page's periodic reload set to 10 minutes, so whatever changes on a page while the
/// test watches came by the push) and one browser; an organisation with a finished run that has a matrix and a failed
/// job, a member, a viewer, and a user of another organisation.
/// </summary>
[NonParallelizable]
public sealed partial class RunPageTests
{
    private const string Sha = "9c1e5f7a2b4d6e8f0a1b3c5d7e9f1a2b3c4d5e6f";
    private const string Project = "webshop";
    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private ApiClient _api = null!;
    private string _dir = null!;
    private long _failedRun;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Agent:Slots=3", "--Runs:PageRefresh=00:10:00");
        _browser = await Browser.LaunchAsync();
        _api = _server.Client();
        _dir = Directory.CreateTempSubdirectory("bs-runpage-").FullName;
        var acme = await UiPages.CreateOrgAsync(_server, "acme");
        var other = await UiPages.CreateOrgAsync(_server, "globex");
        await UiPages.CreateProjectAsync(_server, Project, "acme");
        await UiPages.CreateUserAsync(_server, "alice", "alice-password", serverAdmin: true);
        await UiPages.CreateUserAsync(_server, "mia", "mia-password", roles: new() { [$"{acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "victor", "victor-password", roles: new() { [$"{acme}"] = "viewer" });
        await UiPages.CreateUserAsync(_server, "dora", "dora-password", roles: new() { [$"{acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "otto", "otto-password", roles: new() { [$"{other}"] = "admin" });
        _failedRun = (await ApiClient.ExpectAsync(await _api.TriggerAsync(Project, null, new
        {
            pipeline = """
                name: ci
                jobs:
                  lint:
                    steps: [{ run: echo lint ok }]
                  build:
                    strategy:
                      fail-fast: false
                      matrix: { os: [linux, windows, macos] }
                    steps:
                      - run: |
                          test "${{ matrix.os }}" != windows || { echo "link.exe: unresolved external" >&2; exit 2; }
                  test:
                    needs: lint
                    steps: [{ run: echo tests passed }]
                  package:
                    needs: build
                    steps: [{ run: echo packaged }]
                  deploy:
                    needs: [test, package]
                    steps: [{ run: echo deployed }]
                """,
            @ref = "refs/heads/main",
            sha = Sha,
        }), System.Net.HttpStatusCode.Created))["id"]!.GetValue<long>();
        Assert.That(ApiClient.Status(await _api.WaitForRunAsync(_failedRun)), Is.EqualTo("failed"));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<IPage> SignedInAsync(string user, int width = 1280, int height = 800)
    {
        var page = await _browser.NewPageAsync(_server, width, height);
        await UiPages.SignInAsync(page, user, user + "-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        return page;
    }

    private static async Task OpenAsync(IPage page, long runId)
    {
        await page.GotoAsync($"runs/{runId}");
        await UiPages.InteractiveAsync(page);
    }

    private static ILocator DagJob(IPage page, string name) => page.Locator("[data-test=dag-job]").Filter(new() { HasText = name });

    private static ILocator JobAttempts(IPage page, string name) =>
        page.Locator("[data-test=job-attempts]").Filter(new() { Has = page.Locator("[data-test=job-link]", new() { HasTextRegex = new Regex($"^{Regex.Escape(name)}$") }) });

    [Test]
    public async Task RunPage_FromTheDashboard_ShowsTheJobsAsADag_WithNeedsEdges_AMatrixGroup_AndEachJobsAttempts()
    {
        var page = await SignedInAsync("alice");
        await UiPages.InteractiveAsync(page);
        await page.Locator("[data-test=last-runs] [data-test=run-link]").Filter(new() { HasTextRegex = new Regex($"^{Project} #1$") }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($"/runs/{_failedRun}$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"{Project} #1" })).ToBeVisibleAsync();
        await Expect(page.Locator(".bs-run-title [data-status]")).ToHaveAttributeAsync("data-status", "failed");
        await Expect(page.Locator("[data-test=trigger]")).ToHaveTextAsync("initial-admin");
        await Expect(page.Locator("[data-test=ref]")).ToHaveTextAsync("main");
        await Expect(page.Locator("[data-test=sha]")).ToHaveTextAsync(Sha[..7]);
        await Expect(page.Locator("[data-test=started] time")).ToHaveAttributeAsync("title", new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"));
        await Expect(page.Locator("[data-test=duration]")).ToHaveTextAsync(new Regex(@"^\d+ (ms|s)$"));

        var jobs = page.Locator("[data-test=dag-job]");
        await Expect(jobs).ToHaveCountAsync(7);
        var group = page.Locator("[data-test=dag-group][data-key=build]");
        await Expect(group.Locator("[data-test=dag-job]")).ToHaveTextAsync([new Regex("linux"), new Regex("windows"), new Regex("macos")]);
        await Expect(group).ToContainTextAsync("3 jobs · 1 failed");
        var statuses = await jobs.EvaluateAllAsync<string[]>("js => js.map(j => j.querySelector('.bs-dag-name').textContent + ':' + j.dataset.status)");
        Assert.That(statuses, Is.EquivalentTo(new[]
        {
            "lint:succeeded", "linux:succeeded", "windows:failed", "macos:succeeded", "test:succeeded", "package:skipped", "deploy:skipped",
        }));
        await Expect(DagJob(page, "windows").Locator("svg[role=img]")).ToHaveAttributeAsync("aria-label", "failed");
        var edges = await page.Locator(".bs-dag-edges > path[data-from]").EvaluateAllAsync<string[]>("es => es.map(e => e.dataset.from + '>' + e.dataset.to)");
        Assert.That(edges, Is.EquivalentTo(new[] { "lint>test", "build>package", "test>deploy", "package>deploy" }));
        var columns = await jobs.EvaluateAllAsync<int[]>("js => js.map(j => Math.round(j.closest('.bs-dag-box').getBoundingClientRect().left))");
        Assert.That(columns.Distinct().Count(), Is.EqualTo(3), "three columns: no needs, needs of depth 1, deploy");

        var windows = JobAttempts(page, "build (windows)");
        await Expect(windows).ToHaveAttributeAsync("data-open", "true");
        await Expect(windows.Locator("[data-test=attempt]")).ToHaveCountAsync(1);
        await Expect(windows.Locator("[data-test=event]")).ToHaveCountAsync(4);
        var kinds = await windows.Locator("[data-test=event]").EvaluateAllAsync<string[]>("es => es.map(e => e.dataset.kind)");
        Assert.That(kinds, Is.EqualTo(new[] { "queued", "assigned", "started", "failed" }));
        await Expect(windows.Locator("[data-test=event][data-kind=assigned]")).ToContainTextAsync("claimed by runner");
        await Expect(windows.Locator("[data-test=event] time").First).ToHaveAttributeAsync("title", new Regex(@"UTC$"));
        await Expect(windows.Locator("[data-test=attempt-reason]")).ToContainTextAsync("exited with code 2");
        await Expect(JobAttempts(page, "package").Locator("[data-test=job-reason]")).ToContainTextAsync("needs 'build', which did not succeed");
        var lint = JobAttempts(page, "lint");
        await Expect(lint.Locator("[data-test=event]")).ToHaveCountAsync(0);
        await lint.Locator("[data-test=job-toggle]").ClickAsync();
        await Expect(lint.Locator("[data-test=job-toggle]")).ToHaveAttributeAsync("aria-expanded", "true");
        await Expect(lint.Locator("[data-test=event]")).ToHaveCountAsync(4);
        await Expect(lint.Locator("[data-test=event]").Last).ToHaveAttributeAsync("data-kind", "succeeded");
        var link = windows.Locator("[data-test=job-link]");
        var jobId = await DagJob(page, "windows").GetAttributeAsync("data-job-id");
        await Expect(link).ToHaveAttributeAsync("href", $"jobs/{jobId}");
        await Expect(DagJob(page, "windows")).ToHaveAttributeAsync("href", $"jobs/{jobId}");
        await page.Mouse.MoveAsync(0, 799); // no hover, no tooltip in the picture
        await Browser.ScreenshotAsync(page, "run-page");
    }

    [Test]
    public async Task RunPage_InDarkMode_UsesThePalettesDarkColours()
    {
        var page = await SignedInAsync("dora");
        await OpenAsync(page, _failedRun);
        var light = await page.Locator("[data-test=dag-job]").First.EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor");

        await page.Locator("[data-test=dark-mode]").ClickAsync();

        await Expect(page.Locator("[data-test=dag-job]").First).Not.ToHaveCSSAsync("background-color", light);
        await Expect(page.Locator("[data-test=dag-job]")).ToHaveCountAsync(7);
        await page.Mouse.MoveAsync(0, 799);
        await Expect(page.Locator(".mud-popover-open")).ToHaveCountAsync(0); // the dark-mode button's tooltip has gone
        await Browser.ScreenshotAsync(page, "run-page-dark");
    }

    [Test]
    public async Task RunPage_WhileAJobRuns_FollowsItLive_WithoutAReload()
    {
        var run = await _api.TriggerRunAsync(Project, $"jobs:\n  wait:\n    steps:\n      - run: until [ -f {_dir}/go ]; do sleep 0.05; done\n");
        var page = await SignedInAsync("victor");
        await OpenAsync(page, run);
        await Expect(DagJob(page, "wait")).ToHaveAttributeAsync("data-status", "running");
        await page.EvaluateAsync("() => window.stillTheSamePage = true");

        await File.WriteAllTextAsync(Path.Combine(_dir, "go"), "");

        await Expect(DagJob(page, "wait")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(page.Locator(".bs-run-title [data-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(JobAttempts(page, "wait").Locator("[data-test=job-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        await JobAttempts(page, "wait").Locator("[data-test=job-toggle]").ClickAsync();
        await Expect(JobAttempts(page, "wait").Locator("[data-test=event]").Last).ToHaveAttributeAsync("data-kind", "succeeded");
        Assert.That(await page.EvaluateAsync<bool>("() => window.stillTheSamePage === true"), Is.True, "updated in place, not reloaded");
    }

    [Test]
    public async Task RunPage_OfAMissingRun_OrOfAnotherOrganisation_IsThe404Page()
    {
        var page = await SignedInAsync("otto");

        var missing = await page.GotoAsync("runs/987654");
        Assert.That(missing!.Status, Is.EqualTo(404));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();

        var invisible = await page.GotoAsync($"runs/{_failedRun}");
        Assert.That(invisible!.Status, Is.EqualTo(404));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
        await UiPages.InteractiveAsync(page);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=dag-job]")).ToHaveCountAsync(0);
    }
}
