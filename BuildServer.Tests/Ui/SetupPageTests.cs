using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>The setup page of a new server, in a real browser: it creates the first admin once, then refuses.
/// On both databases (the users' tables come from each provider's migrations).</summary>
public sealed class SetupPageTests
{
    private ServerProcess? _server;
    private Browser? _browser;

    [TearDown]
    public async Task StopAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        if (_server is not null) await _server.DisposeAsync();
    }

    [TestCase(Db.Sqlite)]
    [TestCase(Db.Postgres)]
    public async Task Setup_OnANewServer_CreatesTheFirstAdminOnce_ThenRefuses(Db db)
    {
        _server = await ServerProcess.StartAsync(db);
        _browser = await Browser.LaunchAsync();
        // Arrange: a new server sends a visitor to the setup page.
        var page = await _browser.NewPageAsync(_server);
        await page.GotoAsync("");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/setup$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Set up BuildServer" })).ToBeVisibleAsync();
        if (db == Db.Sqlite) await Browser.ScreenshotAsync(page, "setup");

        // Act: bad input first, then good.
        await page.Locator("#username").FillAsync("-admin");
        await page.Locator("#password").FillAsync("short");
        await page.Locator("#confirm").FillAsync("other");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the admin account" }).ClickAsync();
        await Expect(page.Locator(".validation-message")).ToHaveTextAsync(
            ["A user name is 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.",
             "A password has 8 to 200 characters.", "The two passwords differ."]);
        await page.Locator("#username").FillAsync("admin");
        await page.Locator("#password").FillAsync("correct horse battery");
        await page.Locator("#confirm").FillAsync("correct horse battery");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the admin account" }).ClickAsync();

        // Assert: signed in as the new admin, on the dashboard.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=user-name]")).ToHaveTextAsync("admin");

        // Then the page refuses, to anyone: shown, and a forged post (with a valid antiforgery token) creates nothing.
        var stranger = await _browser.NewPageAsync(_server);
        var shown = await stranger.GotoAsync("setup");
        Assert.That(shown!.Status, Is.EqualTo(403));
        await Expect(stranger.Locator("[data-test=form-error]")).ToContainTextAsync("set up already");
        var forged = await UiPages.PostFormAsync(stranger, "setup", new()
        {
            ["__RequestVerificationToken"] = await UiPages.AntiforgeryTokenAsync(stranger),
            ["_handler"] = "setup",
            ["Input.UserName"] = "intruder",
            ["Input.Password"] = "intruder-password",
            ["Input.ConfirmPassword"] = "intruder-password",
        });
        Assert.That(forged.Status, Is.EqualTo(403));
        await UiPages.SignInAsync(stranger, "intruder", "intruder-password");
        await Expect(stranger.Locator("[data-test=form-error]")).ToHaveTextAsync("The user name or the password is wrong.");
    }

    [TestCase(Db.Sqlite)]
    [TestCase(Db.Postgres)]
    public async Task Setup_PostedTwiceAtOnce_CreatesOneAdmin(Db db)
    {
        _server = await ServerProcess.StartAsync(db);
        _browser = await Browser.LaunchAsync();
        var first = await _browser.NewPageAsync(_server);
        var second = await _browser.NewPageAsync(_server);
        await first.GotoAsync("setup");
        await second.GotoAsync("setup");

        var posts = await Task.WhenAll(SetupAsync(first, "first"), SetupAsync(second, "second"));

        Assert.That(posts.Select(p => p.Status).Order(), Is.EqualTo(new[] { 302, 403 }));
        var winner = posts[0].Status == 302 ? "first" : "second";
        var loser = winner == "first" ? "second" : "first";
        await UiPages.SignInAsync(first, loser, loser + "-password");
        await Expect(first.Locator("[data-test=form-error]")).ToHaveTextAsync("The user name or the password is wrong.");
        await UiPages.SignInAsync(second, winner, winner + "-password");
        await Expect(second.Locator("[data-test=user-name]")).ToHaveTextAsync(winner);
    }

    private static async Task<IAPIResponse> SetupAsync(IPage page, string name) =>
        await UiPages.PostFormAsync(page, "setup", new()
        {
            ["__RequestVerificationToken"] = await UiPages.AntiforgeryTokenAsync(page),
            ["_handler"] = "setup",
            ["Input.UserName"] = name,
            ["Input.Password"] = name + "-password",
            ["Input.ConfirmPassword"] = name + "-password",
        });
}
