using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>The live log: lines as they come, following, and a dropped connection.</summary>
public sealed partial class LogViewTests
{
    private static readonly TimeSpan Lively = TimeSpan.FromSeconds(20);

    [Test]
    public async Task LiveLog_OfARunningJob_ShowsItsNumberedLinesInOrderAsTheyCome()
    {
        var page = await OpenAsync(_tickJob);
        await Expect(page.Locator("[data-test=attempt-status] [data-status]")).ToHaveAttributeAsync("data-status", "running");
        await Expect(page.Locator("[data-test=follow]")).ToHaveAttributeAsync("aria-pressed", "true");
        var first = (await TicksAsync(page)).Max();

        var later = await Eventually.Until(() => TicksAsync(page), ticks => ticks.Length > 0 && ticks.Max() >= first + 20, Lively, "twenty more lines");

        Assert.That(later, Is.EqualTo(Enumerable.Range((int)later[0], later.Length).Select(i => (long)i)), "every line once, in order");
        await Expect(Lines(page).Last).ToBeInViewportAsync();
    }

    [Test]
    public async Task Follow_ScrollingUp_StopsFollowing_AndTheButtonFollowsAgain()
    {
        var page = await OpenAsync(_tickJob);
        var follow = page.Locator("[data-test=follow]");
        await Expect(follow).ToHaveAttributeAsync("aria-pressed", "true");
        await Eventually.Until(() => TicksAsync(page), t => t.Length > 60, Lively, "a screenful of lines");

        await Log(page).HoverAsync();
        await page.Mouse.WheelAsync(0, -600);

        await Expect(follow).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(follow).ToHaveTextAsync("Follow");
        var top = (await LinesInViewAsync(page)).Min();
        var rows = long.Parse((await Log(page).GetAttributeAsync("data-rows"))!, System.Globalization.CultureInfo.InvariantCulture);
        await Eventually.Until(() => Log(page).GetAttributeAsync("data-rows"), r => long.Parse(r!, System.Globalization.CultureInfo.InvariantCulture) >= rows + 20, Lively, "twenty more lines");
        Assert.That((await LinesInViewAsync(page)).Min(), Is.EqualTo(top), "the view stays where the reader scrolled to");

        await follow.ClickAsync();

        await Expect(follow).ToHaveAttributeAsync("aria-pressed", "true");
        await Eventually.Until(async () => (await LinesInViewAsync(page)).DefaultIfEmpty().Max() - (await RenderedLinesAsync(page)).DefaultIfEmpty().Max(),
            gap => gap == 0, Lively, "the last line rendered to be in view");
        await Expect(Lines(page).Last).ToBeInViewportAsync();
    }

    [Test]
    public async Task Reconnect_AfterTheWebSocketDrops_ResumesTheLiveLogWithoutDuplicatedOrMissingLines()
    {
        var page = await SignedInAsync("mia");
        var sockets = new List<(IWebSocketRoute Page, IWebSocketRoute Server)>();
        await page.RouteWebSocketAsync(new System.Text.RegularExpressions.Regex("/_blazor"), ws =>
        {
            lock (sockets) sockets.Add((ws, ws.ConnectToServer()));
        });
        await page.GotoAsync($"jobs/{_tickJob}");
        await ReadyAsync(page);
        // Every line element ever added, in order (the view drops old rows as it follows, so the DOM alone would not tell).
        await page.EvaluateAsync("""
            () => {
                window.seen = [...document.querySelectorAll('[data-test=log-line] .bs-txt')].map(e => e.textContent);
                new MutationObserver(records => {
                    for (const r of records) for (const n of r.addedNodes)
                        if (n.nodeType === 1 && n.matches('[data-test=log-line]')) window.seen.push(n.querySelector('.bs-txt')?.textContent ?? '');
                }).observe(document.querySelector('.bs-log-rows'), { childList: true });
            }
            """);
        var before = (await TicksAsync(page)).Max();

        (IWebSocketRoute Page, IWebSocketRoute Server)[] open;
        lock (sockets) open = [.. sockets];
        Assert.That(open, Is.Not.Empty, "the circuit's websocket was routed");
        foreach (var (pageSide, serverSide) in open)
        {
            await serverSide.CloseAsync();
            await pageSide.CloseAsync();
        }
        await Eventually.Until(() => Task.FromResult(sockets.Count), count => count > open.Length, Lively, "the page to connect again");
        await Eventually.Until(() => TicksAsync(page), t => t.Length > 0 && t.Max() > before + 40, Lively, "forty more lines after reconnecting");

        var seen = (await page.EvaluateAsync<string[]>("() => window.seen"))
            .Select(t => TickRegex().Match(t)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.That(seen, Is.EqualTo(Enumerable.Range((int)seen[0], seen.Length).Select(i => (long)i)), "each line once, in order, none missing");
        Assert.That(seen[^1], Is.GreaterThan(before + 40));
    }

    [Test]
    public async Task ServerRestart_ThePageReloads_AndShowsTheLogAgain()
    {
        var page = await OpenAsync(_coloursJob);
        await Expect(LineWith(page, "unused variable")).ToHaveCountAsync(1);
        await page.EvaluateAsync("() => window.beforeRestart = true");

        // A graceful stop does not wait for the open page: its reconnection while the server stops is refused. Accepted,
        // it held the stop for the host's shutdown timeout (30 s; StopAsync gives up then too).
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await _server.StopAsync();
        Assert.That(stopping.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "the graceful stop with a page open");
        await _server.StartAsync();

        // The circuit died with the server: Blazor's reconnection finds it gone and reloads the page.
        await page.WaitForFunctionAsync("() => window.beforeRestart === undefined", null, new() { Timeout = 60_000 });
        await ReadyAsync(page);
        await Expect(LineWith(page, "unused variable")).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-test=attempt-info]")).ToContainTextAsync("Attempt 2 of 2");
    }
}
