using System.Globalization;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>Reading a finished log: colours, groups, steps, attempts, line links, search, a big log, the raw download.</summary>
public sealed partial class LogViewTests
{
    private static ILocator LineWith(IPage page, string text) => Lines(page).Filter(new() { HasText = text });

    [Test]
    public async Task Colours_AreRenderedAsStyledSpans_AndOtherEscapeCodesAreGone()
    {
        var page = await OpenAsync(_coloursJob);

        var error = LineWith(page, "error: disk almost full").Locator("span.bs-f1");
        await Expect(error).ToHaveTextAsync("error: disk almost full");
        var rgb = await RgbAsync(error);
        Assert.That(rgb[0], Is.GreaterThan(rgb[1] + 60).And.GreaterThan(rgb[2] + 60), $"red, not rgb({string.Join(", ", rgb)})");
        var plain = await RgbAsync(LineWith(page, "error: disk almost full").Locator(".bs-txt"));
        Assert.That(plain, Is.Not.EqualTo(rgb));
        var warning = LineWith(page, "unused variable").Locator(".bs-txt > span", new() { HasText = "warning:" });
        await Expect(warning).ToHaveClassAsync("bs-f3 bs-bold");
        await Expect(warning).ToHaveCSSAsync("font-weight", "700");
        await Expect(LineWith(page, "colour 208").Locator(".bs-txt > span", new() { HasText = "colour 208" })).ToHaveAttributeAsync("style", "--bs-fx:#ff8700;");
        await Expect(LineWith(page, "true colour").Locator(".bs-txt > span", new() { HasText = "true colour" })).ToHaveAttributeAsync("style", "--bs-fx:#7850c8;");
        await Expect(LineWith(page, "on blue").Locator(".bs-txt > span", new() { HasText = "on blue" })).ToHaveClassAsync("bs-f15 bs-b4");
        await Expect(LineWith(page, "underlined").Locator("span.bs-ul")).ToHaveCSSAsync("text-decoration-line", "underline");
        await Expect(LineWith(page, "cursor codes gone").Locator(".bs-txt")).ToHaveTextAsync("underlined italic cursor codes gone");
        Assert.That(await Log(page).InnerTextAsync(), Does.Not.Contain("\u001b").And.Not.Contain("[31m"));
    }

    [Test]
    public async Task Groups_AClosedOneIsFolded_AndAClickOrEnterTogglesIt()
    {
        var page = await OpenAsync(_coloursJob);
        var toggle = page.Locator("[data-test=group-toggle]", new() { HasText = "Compile sources" });
        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");
        await Expect(LineWith(page, "cc app.c")).ToHaveCountAsync(0);
        await Expect(LineWith(page, "Compile sources")).ToContainTextAsync("3 lines");
        await Expect(LineWith(page, "::endgroup::")).ToHaveCountAsync(0);

        await toggle.ClickAsync();

        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
        await Expect(Lines(page).Filter(new() { HasTextRegex = new Regex("cc (app|lib|util)\\.c") })).ToHaveCountAsync(3);
        await Expect(LineWith(page, "::endgroup::")).ToHaveCountAsync(0);

        await toggle.FocusAsync();
        await page.Keyboard.PressAsync("Enter");

        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "false");
        await Expect(LineWith(page, "cc app.c")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task Steps_AreSectionsWithTheirNameStatusAndDuration_AndFold()
    {
        var page = await OpenAsync(_coloursJob);
        var steps = page.Locator("[data-test=log-step]");

        await Expect(steps.Locator("[data-test=step-toggle]")).ToHaveTextAsync(["Install", "Compile", "Test"]);
        await Expect(steps.Nth(0)).ToHaveAttributeAsync("data-status", "succeeded");
        await Expect(steps.Nth(2)).ToHaveAttributeAsync("data-status", "failed");
        await Expect(steps.Nth(2)).ToContainTextAsync("failed");
        await Expect(steps.Locator("[data-test=step-duration]")).ToHaveTextAsync([new Regex(@"^\d+ (ms|s)$"), new Regex(@"^\d+ (ms|s)$"), new Regex(@"^\d+ (ms|s)$")]);
        await Expect(LineWith(page, "Installing dependencies")).ToHaveCountAsync(1);

        await steps.Nth(0).Locator("[data-test=step-toggle]").ClickAsync();

        await Expect(steps.Nth(0).Locator("[data-test=step-toggle]")).ToHaveAttributeAsync("aria-expanded", "false");
        await Expect(LineWith(page, "Installing dependencies")).ToHaveCountAsync(0);
        await Expect(LineWith(page, "restored 42 packages")).ToHaveCountAsync(0);
        await Expect(LineWith(page, "unused variable")).ToHaveCountAsync(1);
    }

    [Test]
    public async Task Attempts_TheLatestIsShownWithItsFailure_AndTheSelectorOpensAnEarlierOne()
    {
        var page = await OpenAsync(_coloursJob);
        var attempts = page.Locator("[data-test=attempt]");
        await Expect(attempts).ToHaveTextAsync([new Regex("#1 failed"), new Regex("#2 failed")]);
        await Expect(attempts.Nth(1)).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.Locator("[data-test=attempt-info]")).ToContainTextAsync("Attempt 2 of 2");
        await Expect(page.Locator("[data-test=failure-reason]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=run-link]")).ToHaveAttributeAsync("href", new Regex(@"^runs/\d+$"));

        await attempts.Nth(0).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($@"/jobs/{_coloursJob}\?attempt=1$"));
        await Expect(page.Locator("[data-test=attempt-info]")).ToContainTextAsync("Attempt 1 of 2");
        await Expect(page.Locator("[data-test=log][data-ready=true]")).ToBeAttachedAsync();
        await Expect(LineWith(page, "1 of 3 tests failed")).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-test=raw]")).ToHaveAttributeAsync("href", $"jobs/{_coloursJob}/log.txt?attempt=1");
    }

    [Test]
    public async Task LineLink_ScrollsToItsLineAndHighlightsIt_AndAClickedNumberBecomesTheAddress()
    {
        var page = await OpenAsync(_bigJob, query: "#L90000");

        await Expect(Line(page, 90_000)).ToBeInViewportAsync();
        await Expect(Line(page, 90_000)).ToHaveClassAsync(new Regex(@"\bbs-hl\b"));
        await Expect(Line(page, 90_000).Locator(".bs-txt")).ToHaveTextAsync(new Regex("^0000090000 the quick"));
        await Expect(page.Locator("[data-test=follow]")).ToHaveAttributeAsync("aria-pressed", "false");

        await Line(page, 90_003).Locator("a.bs-ln").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($@"/jobs/{_bigJob}\?attempt=1#L90003$"));
        await Expect(Line(page, 90_003)).ToHaveClassAsync(new Regex(@"\bbs-hl\b"));
        await Expect(Line(page, 90_000)).Not.ToHaveClassAsync(new Regex(@"\bbs-hl\b"));
        await Expect(Line(page, 90_003).Locator("a.bs-ln")).ToHaveAttributeAsync("href", $"jobs/{_bigJob}?attempt=1#L90003");
    }

    [Test]
    public async Task Search_FindsALineThatIsNotLoaded_CountsIt_AndMarksIt()
    {
        var page = await OpenAsync(_bigJob);
        await Expect(Line(page, NeedleLine)).ToHaveCountAsync(0);

        var search = page.GetByLabel("Search the log");
        await search.FillAsync("NEEDLE-in-the");
        await search.PressAsync("Enter");

        await Expect(page.Locator("[data-test=search-count]")).ToHaveTextAsync("1 of 1");
        await Expect(Line(page, NeedleLine)).ToBeInViewportAsync();
        await Expect(Line(page, NeedleLine).Locator("mark")).ToHaveTextAsync("needle-in-the");
        await Expect(Line(page, NeedleLine)).ToHaveClassAsync(new Regex(@"\bbs-cur\b"));

        await search.FillAsync("no such text anywhere");
        await search.PressAsync("Enter");

        await Expect(page.Locator("[data-test=search-count]")).ToHaveTextAsync("No match");
    }

    [Test]
    public async Task BigLog_OpensAtItsTail_AndScrollingToTheTopShowsLine1_WithABoundedNumberOfLinesInThePage()
    {
        const int bound = 600;
        var page = await OpenAsync(_bigJob);

        await Expect(Line(page, BigLines)).ToBeInViewportAsync();
        await Expect(Line(page, BigLines).Locator(".bs-txt")).ToHaveTextAsync(new Regex($"^{BigLines:D10} the quick"));
        Assert.That(await Lines(page).CountAsync(), Is.LessThanOrEqualTo(bound));

        await Log(page).FocusAsync();
        await page.Keyboard.PressAsync("Home");

        await Expect(Line(page, 1)).ToBeInViewportAsync();
        await Expect(Line(page, 1).Locator(".bs-txt")).ToHaveTextAsync(new Regex("^0000000001 the quick"));
        Assert.That(await Lines(page).CountAsync(), Is.LessThanOrEqualTo(bound));
        await Expect(Line(page, BigLines)).ToHaveCountAsync(0);

        await Log(page).EvaluateAsync("log => log.scrollTop = log.scrollHeight / 2");

        await Eventually.Until(() => LinesInViewAsync(page), lines => lines.Length > 10 && lines.Min() > 50_000 && lines.Max() < 130_000,
            TimeSpan.FromSeconds(10), "the middle of the log in view");
        Assert.That(await Lines(page).CountAsync(), Is.LessThanOrEqualTo(bound));
    }

    [Test]
    public async Task RawDownload_IsTheWholeLogAsTheApiHasIt_AndOnlyForThoseWhoMaySeeIt()
    {
        var page = await OpenAsync(_coloursJob);
        using var api = _server.Client();
        var expected = await api.JobLogAsync(_coloursJob);

        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("[data-test=raw]").ClickAsync());
        var response = await page.Context.APIRequest.GetAsync($"jobs/{_coloursJob}/log.txt?attempt=2");

        Assert.That(await File.ReadAllTextAsync((await download.PathAsync())!), Is.EqualTo(expected));
        Assert.That(download.SuggestedFilename, Is.EqualTo("shop-2-build-attempt2.log"));
        Assert.That(response.Status, Is.EqualTo(200));
        Assert.That(response.Headers["content-type"], Does.StartWith("text/plain"));
        Assert.That(response.Headers["content-disposition"], Does.StartWith("attachment"));
        Assert.That(await response.TextAsync(), Is.EqualTo(expected));

        var stranger = await SignedInAsync("olga");
        var refused = await stranger.Context.APIRequest.GetAsync($"jobs/{_coloursJob}/log.txt", new() { MaxRedirects = 0 });
        Assert.That(refused.Status, Is.EqualTo(404));
    }

    [Test]
    public async Task NotFound_ForAViewerOfAnotherOrganisation_AnUnknownJob_OrABadAttempt()
    {
        var stranger = await SignedInAsync("olga");
        var page = await SignedInAsync("mia");

        var response = await stranger.GotoAsync($"jobs/{_coloursJob}");

        Assert.That(response!.Status, Is.EqualTo(404));
        await Expect(stranger.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
        await Expect(stranger.Locator("[data-test=log]")).ToHaveCountAsync(0);
        // Blazor sends a page answered with 404 without its circuit's markers: nothing renders the job later.
        Assert.That(await response.TextAsync(), Does.Not.Contain("<!--Blazor:"), "the 404 page starts no circuit");
        // The others as the browser fetches them.
        foreach (var address in new[] { "jobs/999999", $"jobs/{_coloursJob}?attempt=abc", $"jobs/{_coloursJob}?attempt=3", $"jobs/{_coloursJob}?attempt=0" })
        {
            var fetched = await page.Context.APIRequest.GetAsync(address);

            Assert.That(fetched.Status, Is.EqualTo(404), address);
            Assert.That(await fetched.TextAsync(), Does.Contain("Page not found").And.Not.Contain("data-test=\"log\""), address);
        }
    }

    [Test]
    public async Task Screenshots_OfAFailedJobWithColoursAGroupAndSteps_LightAndDark()
    {
        var page = await OpenAsync(_coloursJob, user: "dora");
        await page.Locator("[data-test=group-toggle]", new() { HasText = "Compile sources" }).ClickAsync();
        await Expect(LineWith(page, "cc app.c")).ToHaveCountAsync(1);
        await Browser.ScreenshotAsync(page, "log-view");

        await page.Locator("[data-test=dark-mode]").ClickAsync();

        await Expect(page.Locator("body")).ToHaveCSSAsync("background-color", new Regex(@"^rgb\((\d|[1-9]\d), "));
        await page.Mouse.MoveAsync(700, 700); // no tooltip of the dark-mode button in the picture
        var error = await RgbAsync(LineWith(page, "error: disk almost full").Locator("span.bs-f1"));
        Assert.That(error[0], Is.GreaterThan(150), "the red reads on the dark background");
        await Browser.ScreenshotAsync(page, "log-view-dark");
    }
}
