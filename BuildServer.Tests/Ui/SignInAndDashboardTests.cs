using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// Sign-in, the dashboard and the roles, in a real browser against the real server. One server for the fixture: an
/// organisation with a finished run and a run that stays queued (no agent has its label), a server admin, a member
/// and a viewer of the organisation.
/// </summary>
[NonParallelizable]
public sealed partial class SignInAndDashboardTests
{
    private const string Sha = "4f2a9c81d3e5b7a6c0d9e8f7a6b5c4d3e2f1a0b9";
    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private long _finishedRun;
    private long _queuedRun;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Runs:LabelTimeout=01:00:00");
        _browser = await Browser.LaunchAsync();
        var org = await UiPages.CreateOrgAsync(_server, "acme");
        await UiPages.CreateProjectAsync(_server, "webshop", "acme");
        await UiPages.CreateUserAsync(_server, "alice", "alice-password", serverAdmin: true);
        await UiPages.CreateUserAsync(_server, "mia", "mia-password", roles: new() { [$"{org}"] = "member" });
        await UiPages.CreateUserAsync(_server, "victor", "victor-password", roles: new() { [$"{org}"] = "viewer" });

        using var api = _server.Client();
        var finished = await ApiClient.ExpectAsync(await api.TriggerAsync("webshop", null, new
        {
            pipeline = "name: ci\njobs:\n  build:\n    steps:\n      - run: echo built\n",
            @ref = "refs/heads/main",
            sha = Sha,
        }), HttpStatusCode.Created);
        _finishedRun = finished["id"]!.GetValue<long>();
        await api.WaitForRunAsync(_finishedRun, null, "succeeded");
        _queuedRun = await api.TriggerRunAsync("webshop", "name: deploy\njobs:\n  ship:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task SignIn_WithAWrongPassword_ShowsTheError_AndStaysSignedOut()
    {
        var page = await _browser.NewPageAsync(_server);

        await UiPages.SignInAsync(page, "alice", "not-her-password");

        await Expect(page.Locator("[data-test=form-error]")).ToHaveTextAsync("The user name or the password is wrong.");
        await Browser.ScreenshotAsync(page, "signin");
        await page.GotoAsync("");
        await Expect(page).ToHaveURLAsync(new Regex("/signin\\?ReturnUrl=%2F$"));
    }

    [Test]
    public async Task SignIn_WithEmptyFields_ShowsEachFieldsError()
    {
        var page = await _browser.NewPageAsync(_server);

        await UiPages.SignInAsync(page, "", "");

        await Expect(page.Locator(".validation-message")).ToHaveTextAsync(["Enter your user name.", "Enter your password."]);
    }

    [Test]
    public async Task Dashboard_AfterSignIn_ShowsTheRunsTriggeredThroughTheApi_WithCounts()
    {
        var page = await _browser.NewPageAsync(_server);
        await page.GotoAsync("");
        await Expect(page).ToHaveURLAsync(new Regex("/signin"));

        await UiPages.SignInAsync(page, "alice", "alice-password");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        var runs = page.Locator("[data-test=last-runs] tbody tr");
        var finished = runs.Filter(new() { HasText = "webshop #1" });
        await Expect(finished.Locator("[data-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(finished.Locator("[data-test=run]")).ToContainTextAsync("webshop #1");
        await Expect(finished.Locator("[data-test=ref]")).ToHaveTextAsync("main");
        await Expect(finished).ToContainTextAsync(Sha[..7]);
        await Expect(finished).ToContainTextAsync("initial-admin");
        await Expect(finished.Locator("time")).ToHaveAttributeAsync("title", new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"));
        await Expect(runs.Filter(new() { HasText = "webshop #2" }).Locator("[data-status]")).ToHaveAttributeAsync("data-status", "queued");
        await Expect(page.Locator("[data-test=count-queued] [data-test=value]")).ToHaveTextAsync("1");
        await Expect(page.Locator("[data-test=count-agents] [data-test=value]")).ToHaveTextAsync("1 / 1");
        await Expect(page.Locator("[data-test=active-jobs] tbody tr")).ToHaveTextAsync([new Regex("normal\\s*acme\\s*0\\s*1\\s*0")]);
        await Browser.ScreenshotAsync(page, "dashboard-light");
    }

    [Test]
    public async Task DarkMode_Toggled_IsKeptForTheUser()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "mia", "mia-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await UiPages.InteractiveAsync(page);
        var light = await BackgroundAsync(page);

        await page.Locator("[data-test=dark-mode]").ClickAsync();
        await Expect(page.Locator("body")).Not.ToHaveCSSAsync("background-color", light);
        var otherBrowser = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(otherBrowser, "mia", "mia-password");

        await Expect(otherBrowser.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await Expect(otherBrowser.Locator("body")).Not.ToHaveCSSAsync("background-color", light);
        await Browser.ScreenshotAsync(otherBrowser, "dashboard-dark");
        await UiPages.InteractiveAsync(otherBrowser);
        await otherBrowser.Locator("[data-test=dark-mode]").ClickAsync();
        await Expect(otherBrowser.Locator("body")).ToHaveCSSAsync("background-color", light);
    }

    [Test]
    public async Task Dashboard_AtPhoneWidth_ShowsTheRunsWithoutTheDrawer()
    {
        var page = await _browser.NewPageAsync(_server, width: 390, height: 844);

        await UiPages.SignInAsync(page, "alice", "alice-password");

        await Expect(page.Locator("[data-test=last-runs] [data-test=run]").First).ToBeInViewportAsync();
        await Expect(page.Locator(".mud-drawer")).Not.ToBeInViewportAsync();
        await Browser.ScreenshotAsync(page, "dashboard-phone");
    }

    private static Task<string> BackgroundAsync(IPage page) =>
        page.Locator("body").EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor");
}
