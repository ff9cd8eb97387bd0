using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>The run page's actions: cancel, re-run failed jobs, re-run; and what a viewer may not do.</summary>
public sealed partial class RunPageTests
{
    [Test]
    public async Task Cancel_FromTheRunPage_CancelsTheRun_AndComesBackToIt()
    {
        var run = await _api.TriggerRunAsync(Project, "name: stuck\njobs:\n  ship:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n");
        var page = await SignedInAsync("mia");
        await OpenAsync(page, run);
        await Expect(page.Locator("[data-test=rerun]")).ToHaveCountAsync(0);

        await page.Locator("[data-test=cancel]").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($"/runs/{run}$"));
        await Expect(page.Locator(".bs-run-title [data-status]")).ToHaveAttributeAsync("data-status", "cancelled");
        await Expect(DagJob(page, "ship")).ToHaveAttributeAsync("data-status", "cancelled");
        await Expect(JobAttempts(page, "ship").Locator("[data-test=event]").Last).ToContainTextAsync("the run was cancelled by mia");
        Assert.That(ApiClient.Status(await _api.GetRunAsync(run)), Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task RerunFailedJobs_FromTheRunPage_RunsTheFailedJobAgain_AndTheRunSucceeds()
    {
        var run = await _api.TriggerRunAsync(Project, $$"""
            name: flaky
            jobs:
              build:
                steps:
                  - run: test -f {{_dir}}/fixed || { echo not fixed yet; exit 4; }
              publish:
                needs: build
                steps: [{ run: echo published }]
            """);
        Assert.That(ApiClient.Status(await _api.WaitForRunAsync(run)), Is.EqualTo("failed"));
        var page = await SignedInAsync("mia");
        await OpenAsync(page, run);
        await Expect(page.Locator("[data-test=cancel]")).ToHaveCountAsync(0);
        await File.WriteAllTextAsync(Path.Combine(_dir, "fixed"), "");

        await page.Locator("[data-test=rerun-failed]").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($"/runs/{run}$"));
        await Expect(page.Locator(".bs-run-title [data-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(DagJob(page, "build")).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(DagJob(page, "publish")).ToHaveAttributeAsync("data-status", "succeeded");
        var attempts = JobAttempts(page, "build").Locator("[data-test=attempt]");
        await Expect(attempts).ToHaveCountAsync(2);
        await Expect(attempts.Nth(0)).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(attempts.Nth(0).Locator("[data-test=event]").First).ToContainTextAsync("re-run by mia");
        await Expect(attempts.Nth(1)).ToHaveAttributeAsync("data-status", "failed");
        await Expect(attempts.Nth(1).Locator("[data-test=event][data-kind=rerun]")).ToContainTextAsync("re-run by mia as attempt 2");
        await Expect(page.Locator("[data-test=rerun-failed]")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task Rerun_FromTheRunPage_CreatesANewRun_AndGoesToIt()
    {
        var run = await _api.TriggerRunAsync(Project, "name: quick\njobs:\n  hello:\n    steps:\n      - run: echo hello\n");
        var finished = await _api.WaitForRunAsync(run);
        var page = await SignedInAsync("mia");
        await OpenAsync(page, run);

        await page.Locator("[data-test=rerun]").ClickAsync();

        await Expect(page).Not.ToHaveURLAsync(new Regex($"/runs/{run}$"));
        await Expect(page).ToHaveURLAsync(new Regex(@"/runs/\d+$"));
        var created = long.Parse(page.Url[(page.Url.LastIndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var number = finished["number"]!.GetValue<long>();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"{Project} #{number + 1}" })).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=trigger]")).ToHaveTextAsync($"rerun of #{number} by mia");
        await Expect(page.Locator(".bs-run-title [data-status]")).ToHaveAttributeAsync("data-status", "succeeded");
        Assert.That(ApiClient.Status(await _api.GetRunAsync(created)), Is.EqualTo("succeeded"));
    }

    [Test]
    public async Task Viewer_SeesNoneOfTheActions_AndForgedPostsAreRefused()
    {
        var waiting = await _api.TriggerRunAsync(Project, "name: parked\njobs:\n  ship:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n");
        var page = await SignedInAsync("victor");
        await OpenAsync(page, _failedRun);
        await Expect(page.Locator("[data-test=dag-job]")).ToHaveCountAsync(7);
        await Expect(page.Locator("[data-test=rerun], [data-test=rerun-failed], [data-test=cancel]")).ToHaveCountAsync(0);
        await OpenAsync(page, waiting);
        await Expect(DagJob(page, "ship")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=rerun], [data-test=rerun-failed], [data-test=cancel]")).ToHaveCountAsync(0);
        var token = await UiPages.AntiforgeryTokenAsync(page);
        var runsBefore = await RunCountAsync();

        var forged = new[]
        {
            await UiPages.PostFormAsync(page, $"runs/{_failedRun}/rerun", new() { ["__RequestVerificationToken"] = token }),
            await UiPages.PostFormAsync(page, $"runs/{_failedRun}/rerun-failed", new() { ["__RequestVerificationToken"] = token }),
            await UiPages.PostFormAsync(page, $"runs/{waiting}/cancel", new() { ["__RequestVerificationToken"] = token, ["from"] = "run" }),
        };

        Assert.That(forged.Select(f => f.Status), Is.All.EqualTo(403));
        Assert.That(await forged[0].TextAsync(), Does.Contain("Not allowed"));
        Assert.That(ApiClient.Status(await _api.GetRunAsync(waiting)), Is.EqualTo("queued"));
        var failed = await _api.GetRunAsync(_failedRun);
        Assert.That(ApiClient.Status(failed), Is.EqualTo("failed"));
        Assert.That(failed["jobs"]!.AsArray().Select(j => j!["attempts"]!.AsArray().Count), Is.All.LessThanOrEqualTo(1), "no new attempt");
        Assert.That(await RunCountAsync(), Is.EqualTo(runsBefore), "no new run");
        var withoutToken = await UiPages.PostFormAsync(page, $"runs/{_failedRun}/rerun-failed", new());
        Assert.That(withoutToken.Status, Is.EqualTo(400));
        await _api.Http.PostAsync($"runs/{waiting}/cancel", null);
    }

    private async Task<int> RunCountAsync() =>
        System.Text.Json.Nodes.JsonNode.Parse(await _api.Http.GetStringAsync("runs?limit=500"))!.AsArray().Count;
}
