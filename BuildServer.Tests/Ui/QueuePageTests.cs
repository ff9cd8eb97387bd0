using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// The queue page in a real browser against the real server, seeded once: organisation acme with a quota of one
/// running job, one long job of acme running (it waits for a file) and a second one waiting for the quota; in globex a
/// job that asks for a label no agent has, and one that needs it. A server admin (alice) and a viewer of acme (victor).
/// </summary>
[NonParallelizable]
public sealed class QueuePageTests
{
    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private ApiClient _api = null!;
    private string _gate = null!;
    private long _held;
    private long _train;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _gate = Directory.CreateTempSubdirectory("bs-gate-").FullName;
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Agent:Slots=2", "--Runs:LabelTimeout=01:00:00");
        _browser = await Browser.LaunchAsync();
        _api = _server.Client();
        var acme = await UiPages.CreateOrgAsync(_server, "acme");
        await UiPages.CreateOrgAsync(_server, "globex");
        await ApiClient.ExpectAsync(await _api.Http.PatchAsJsonAsync("orgs/acme", new { maxRunning = 1 }), HttpStatusCode.OK);
        await UiPages.CreateUserAsync(_server, "alice", "alice-password", serverAdmin: true);
        await UiPages.CreateUserAsync(_server, "victor", "victor-password", roles: new() { [$"{acme}"] = "viewer" });
        await UiPages.CreateProjectAsync(_server, "webshop", "acme");
        await UiPages.CreateProjectAsync(_server, "ml", "globex");
        await UiPages.CreateProjectAsync(_server, "bulk", "globex");

        var running = await _api.TriggerRunAsync("webshop", $"name: nightly\njobs:\n  soak:\n    steps:\n      - run: while [ ! -f {_gate}/open ]; do sleep 0.1; done\n");
        await _api.WaitForRunAsync(running, null, "running");
        _held = await _api.TriggerRunAsync("webshop", "name: ci\npriority: high\njobs:\n  build:\n    steps:\n      - run: echo built\n");
        _train = await _api.TriggerRunAsync("ml", "name: train\njobs:\n  train:\n    runs-on: [gpu]\n    steps:\n      - run: echo trained\n" +
                                                  "  report:\n    needs: [train]\n    steps:\n      - run: echo reported\n");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_gate, "open"), "");
        _api.Dispose();
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_gate, recursive: true);
    }

    private async Task<IPage> QueueAsync(string user)
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, user, user + "-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await UiPages.InteractiveAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Queue", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Queue" })).ToBeVisibleAsync();
        return page;
    }

    private static ILocator Row(IPage page, string job) =>
        page.Locator("[data-test=queue] tbody tr").Filter(new() { Has = page.Locator("[data-test=job]", new() { HasTextRegex = new Regex($@"\b{job}$") }) });

    [Test]
    public async Task Queue_ShowsWhyEachJobWaits_TheQuotaNOfM_TheLabelsNoAgentHas_AndTheNeeds()
    {
        var page = await QueueAsync("alice");

        var held = Row(page, "build");
        await Expect(held.Locator("[data-test=reason]")).ToHaveTextAsync("Org 'acme' is at its quota: 1 of 1 jobs running.");
        await Expect(held.Locator("[data-test=reason]")).ToHaveAttributeAsync("data-kind", "org_quota");
        await Expect(held.Locator("[data-status]")).ToHaveAttributeAsync("data-status", "pending");
        await Expect(held.Locator("[data-test=job] a")).ToHaveAttributeAsync("href", $"runs/{_held}");
        await Expect(held.Locator("[data-test=job]")).ToContainTextAsync("webshop #2");
        var train = Row(page, "train");
        await Expect(train.Locator("[data-test=reason]")).ToHaveTextAsync("No online agent has labels [gpu]; no registered agent would match.");
        await Expect(train.Locator("[data-test=reason]")).ToHaveAttributeAsync("data-kind", "no_agent");
        await Expect(train.Locator("[data-test=job] a")).ToHaveAttributeAsync("href", $"runs/{_train}");
        await Expect(Row(page, "report").Locator("[data-test=reason]")).ToHaveTextAsync("Waiting for needs: train (queued).");
        await Expect(Row(page, "soak")).ToHaveCountAsync(0); // running, so not waiting
        await Expect(page.Locator("[data-test=lane-group]")).ToHaveTextAsync(["Lane high", "Lane normal"]);
        await Browser.ScreenshotAsync(page, "queue");
    }

    [Test]
    public async Task Queue_ForAViewer_ShowsOnlyTheJobsOfHisOrganisations()
    {
        var page = await QueueAsync("victor");

        await Expect(Row(page, "build").Locator("[data-test=reason]")).ToHaveAttributeAsync("data-kind", "org_quota");
        await Expect(page.Locator("[data-test=queue] tbody [data-test=job]")).ToHaveCountAsync(1);
        await page.Locator("[data-test=filter-org]").GetByRole(AriaRole.Combobox).ClickAsync();
        await Expect(UiPages.Options(page)).ToHaveTextAsync(["acme"]);
    }

    [Test]
    public async Task Queue_FilteredByOrganisationAndLane_ShowsOnlyThoseJobs()
    {
        var page = await QueueAsync("alice");
        await Expect(Row(page, "build")).ToHaveCountAsync(1);

        await UiPages.ChooseAsync(page, page.Locator("[data-test=filter-org]"), "globex");

        await Expect(Row(page, "build")).ToHaveCountAsync(0);
        await Expect(Row(page, "train")).ToHaveCountAsync(1);
        await UiPages.ChooseAsync(page, page.Locator("[data-test=filter-lane]"), "high");
        await Expect(page.Locator("[data-test=queue-empty]")).ToHaveTextAsync("Nothing waits among these: every job is running or finished.");
    }

    [Test]
    public async Task Queue_WhileOpen_ShowsAJobThatStartsWaiting_WithoutAReload()
    {
        var page = await QueueAsync("alice");
        await Expect(Row(page, "train")).ToHaveCountAsync(1);

        var run = await _api.TriggerRunAsync("ml", "name: eval\njobs:\n  evaluate:\n    runs-on: [tpu]\n    steps:\n      - run: echo evaluated\n");

        await Expect(Row(page, "evaluate").Locator("[data-test=reason]")).ToHaveTextAsync("No online agent has labels [tpu]; no registered agent would match.");
        await ApiClient.ExpectAsync(await _api.Http.PostAsync($"runs/{run}/cancel", null), HttpStatusCode.OK);
        await Expect(Row(page, "evaluate")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task Queue_OfSixtyWaitingJobs_IsPagedByFifty()
    {
        var run = await _api.TriggerRunAsync("bulk", "name: shards\njobs:\n  shard:\n    runs-on: [gpu]\n    strategy:\n      matrix:\n        n: [" +
                                                      string.Join(", ", Enumerable.Range(1, 60)) + "]\n    steps:\n      - run: echo ${{ matrix.n }}\n");
        try
        {
            var page = await QueueAsync("alice");

            await UiPages.ChooseAsync(page, page.Locator("[data-test=filter-project]"), "bulk");

            await Expect(page.Locator("[data-test=queue-count]")).ToHaveTextAsync("60 jobs waiting");
            await Expect(page.Locator("[data-test=queue] tbody [data-test=job]")).ToHaveCountAsync(50);
            await page.Locator("[data-test=pages]").GetByRole(AriaRole.Button, new() { Name = "Page 2", Exact = true }).ClickAsync();
            await Expect(page.Locator("[data-test=queue] tbody [data-test=job]")).ToHaveCountAsync(10);
        }
        finally
        {
            await ApiClient.ExpectAsync(await _api.Http.PostAsync($"runs/{run}/cancel", null), HttpStatusCode.OK);
        }
    }
}
