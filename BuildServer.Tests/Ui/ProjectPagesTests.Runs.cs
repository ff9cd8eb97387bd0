using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>A project's runs and the Run form (workflow_dispatch inputs as fields, the trigger's errors on them).</summary>
public sealed partial class ProjectPagesTests
{
    private static ILocator Input(IPage page, string name) => page.Locator($"[data-test=input][data-input='{name}']");

    private async Task<long> RunCountAsync() => await DatabaseRows.CountAsync(_server, "runs");

    [Test]
    public async Task RunForm_RendersTheDispatchInputs_ShowsTheTriggersErrorOnItsField_ThenStartsTheRunWithThem()
    {
        var page = await SignedInAsync("mia", "projects/webshop");
        await page.Locator("[data-test=run]").ClickAsync();
        var form = page.Locator("[data-test=run-form]");
        await Expect(form.Locator("[data-test=input]")).ToHaveCountAsync(6); // four inputs, the ref and the sha
        await Expect(Input(page, "target")).ToContainTextAsync("target *");
        await Expect(Input(page, "target")).ToContainTextAsync("The host group to deploy to");
        await Expect(Input(page, "dry_run").Locator("input[type=checkbox]")).Not.ToBeCheckedAsync();
        await Expect(Input(page, "replicas").Locator("input")).ToHaveValueAsync("2");
        await Input(page, "level").GetByRole(AriaRole.Combobox).ClickAsync();
        await Expect(UiPages.Options(page)).ToHaveTextAsync(["info", "debug"]);
        await UiPages.Options(page).Filter(new() { HasText = "debug" }).ClickAsync();
        await Input(page, "dry_run").Locator("input[type=checkbox]").CheckAsync();
        var before = await RunCountAsync();

        await page.Locator("[data-test=start-run]").ClickAsync();

        await Expect(Input(page, "target").Locator(UiPages.FieldError)).ToHaveTextAsync("Input 'target' is required.");
        await Expect(page).ToHaveURLAsync(new Regex("/projects/webshop$"));
        Assert.That(await RunCountAsync(), Is.EqualTo(before), "a refused trigger stores nothing");
        await Browser.ScreenshotAsync(page, "project");
        await Input(page, "target").Locator("input").FillAsync("prod-eu");
        await Input(page, "ref").Locator("input").FillAsync("refs/heads/release");

        await page.Locator("[data-test=start-run]").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex(@"/runs/\d+$"));
        var id = long.Parse(Regex.Match(page.Url, @"/runs/(\d+)$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var api = _server.Client();
        var run = await api.WaitForRunAsync(id);
        Assert.That((ApiClient.Status(run), run["triggeredBy"]!.GetValue<string>(), run["ref"]!.GetValue<string>(), run["name"]!.GetValue<string>()),
            Is.EqualTo(("succeeded", "mia", "refs/heads/release", "deploy")));
        var log = await api.JobLogAsync(ApiClient.Job(run, "deploy")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Lines(log), Does.Contain("target=prod-eu level=debug dry=true replicas=2"));
    }

    [Test]
    public async Task RunForm_WhenTheMemberLostTheRoleWhileItWasOpen_IsRefusedOnTheServer()
    {
        var page = await SignedInAsync("max", "projects/webshop");
        await page.Locator("[data-test=run]").ClickAsync();
        await Input(page, "target").Locator("input").FillAsync("prod-us");
        var before = await RunCountAsync();

        await DatabaseRows.SetOrgRoleAsync(_server, _max, _acme, "viewer");
        await page.Locator("[data-test=start-run]").ClickAsync();

        await Expect(page.Locator("[data-test=run-refused]")).ToHaveTextAsync("Not allowed: starting a run of webshop takes the member role in acme.");
        Assert.That(await RunCountAsync(), Is.EqualTo(before));
        await page.ReloadAsync();
        await Expect(Rows(page, "runs").First).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=run]")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task RunForm_OfAPipelineThatDoesNotParse_ShowsItsErrorWithLineAndColumn()
    {
        var page = await SignedInAsync("mia", "projects/legacy");

        await page.Locator("[data-test=run]").ClickAsync();

        await Expect(page.Locator("[data-test=pipeline-error]")).ToHaveTextAsync(new Regex(@"^4:5: Unknown key 'stepz' in job 'build'\."));
        var before = await RunCountAsync();
        await page.Locator("[data-test=start-run]").ClickAsync();
        await Expect(page.Locator("[data-test=pipeline-error]")).ToHaveTextAsync(new Regex(@"^4:5: Unknown key 'stepz'"));
        Assert.That(await RunCountAsync(), Is.EqualTo(before));
    }

    [Test]
    public async Task ProjectPage_ListsItsRunsNewestFirst_InPagesOfTwenty_EachLinkingToItsRun()
    {
        var page = await SignedInAsync("victor", "projects/history");

        await Expect(Rows(page, "runs")).ToHaveCountAsync(20);
        await Expect(Rows(page, "runs").First.Locator("[data-test=run-link]")).ToContainTextAsync("#23 nightly 23");
        await Expect(Rows(page, "runs").First.Locator("[data-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(Rows(page, "runs").First.Locator("[data-test=ref]")).ToHaveTextAsync("main");
        await Expect(Rows(page, "runs").First).ToContainTextAsync(Sha[..7]);
        await Expect(Rows(page, "runs").First.Locator("time")).ToHaveAttributeAsync("title", new Regex(@"UTC$"));
        await page.Locator("[data-test=pages]").GetByRole(AriaRole.Button, new() { Name = "Page 2", Exact = true }).ClickAsync();

        await Expect(Rows(page, "runs").Locator("[data-test=run-link]")).ToHaveTextAsync([new Regex("#3 nightly 3"), new Regex("#2 nightly 2"), new Regex("#1 nightly 1")]);
        using var api = _server.Client();
        var first = (await ApiClient.ExpectAsync(await api.Http.GetAsync("projects/history/runs?limit=500"), HttpStatusCode.OK)).AsArray().Single(r => r!["number"]!.GetValue<long>() == 1)!;
        await Expect(Rows(page, "runs").Last.Locator("[data-test=run-link] a")).ToHaveAttributeAsync("href", $"runs/{first["id"]}");
    }
}
