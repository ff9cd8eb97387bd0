using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>What the UI refuses: pages without sign-in, forms without their antiforgery token, actions without the role.</summary>
public sealed partial class SignInAndDashboardTests
{
    [Test]
    public async Task Pages_WithoutSignIn_RedirectToSignIn_WhileTheApiStillTakesItsBearerToken()
    {
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.BaseAddress };
        using var api = _server.Client();

        var page = await anonymous.GetAsync(new Uri("/", UriKind.Relative));
        var apiWithoutToken = await anonymous.GetAsync(new Uri("/api/v1/runs", UriKind.Relative));
        var apiWithToken = await api.Http.GetAsync(new Uri($"runs/{_finishedRun}", UriKind.Relative));

        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(page.Headers.Location!.ToString(), Does.EndWith("/signin?ReturnUrl=%2F"));
        Assert.That(apiWithoutToken.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(apiWithToken.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task SignIn_AfterTenWrongPasswords_IsRefusedForThatName_EvenWithTheRightPassword_WhileOthersStillSignIn()
    {
        await UiPages.CreateUserAsync(_server, "gus", "gus-password");
        var page = await _browser.NewPageAsync(_server);
        for (var i = 0; i < 10; i++)
        {
            await UiPages.SignInAsync(page, "gus", $"wrong-password-{i}");
            await Expect(page.Locator("[data-test=form-error]")).ToHaveTextAsync("The user name or the password is wrong.");
        }

        var refused = await page.RunAndWaitForResponseAsync(() => UiPages.SignInAsync(page, "GUS", "gus-password"),
            r => r.Url.Contains("/signin", StringComparison.Ordinal) && r.Request.Method == "POST");

        Assert.That(refused.Status, Is.EqualTo(429));
        Assert.That(int.Parse(await refused.HeaderValueAsync("retry-after") ?? "0", System.Globalization.CultureInfo.InvariantCulture), Is.InRange(1, 15 * 60));
        await Expect(page.Locator("[data-test=form-error]")).ToContainTextAsync("Too many failed sign-ins for this user name or from this address");
        Assert.That((await page.Context.CookiesAsync()).Select(c => c.Name), Has.None.EqualTo("buildserver.session"), "no session for a refused sign-in");
        var other = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(other, "mia", "mia-password");
        await Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
    }

    [Test]
    public async Task Keyboard_APageStartsAtItsTitle_AndTheFirstTabStopOfTheDocumentSkipsToTheContent()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "mia", "mia-password");
        await UiPages.InteractiveAsync(page);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeFocusedAsync();

        // From the top of the document, where the browser starts when the keyboard comes from its address bar.
        await page.EvaluateAsync("() => { const b = document.body; b.tabIndex = -1; b.focus(); b.removeAttribute('tabindex'); }");
        await page.Keyboard.PressAsync("Tab");
        var skip = page.Locator("[data-test=skip-link]");
        await Expect(skip).ToBeFocusedAsync();
        await Expect(skip).ToBeInViewportAsync();
        await page.Keyboard.PressAsync("Enter");

        await Expect(page.Locator("#main")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");
        var inside = await page.EvaluateAsync<bool>("() => document.getElementById('main').contains(document.activeElement)");
        Assert.That(inside, Is.True, "the next Tab stop is inside the page, past the bar and the drawer");
    }

    [Test]
    public async Task Forms_PostedWithoutTheirAntiforgeryToken_AreRefused()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "alice", "alice-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();

        var signIn = await UiPages.PostFormAsync(page, "signin", new() { ["_handler"] = "signin", ["Input.UserName"] = "alice", ["Input.Password"] = "alice-password" });
        var signOut = await UiPages.PostFormAsync(page, "signout", new() { });
        var cancel = await UiPages.PostFormAsync(page, $"runs/{_queuedRun}/cancel", new() { });

        Assert.That(new[] { signIn.Status, signOut.Status, cancel.Status }, Is.All.EqualTo(400));
        await page.ReloadAsync();
        await Expect(page.Locator("[data-test=user-name]")).ToHaveTextAsync("alice");
        Assert.That(ApiClient.Status(await _server.Client().GetRunAsync(_queuedRun)), Is.EqualTo("queued"));
    }

    [Test]
    public async Task CancelRun_ForAViewer_IsNotShown_AndAForgedPostIsRefused()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "victor", "victor-password");
        await Expect(page.Locator("[data-test=last-runs] tbody tr").Filter(new() { HasText = "webshop #2" })).ToBeVisibleAsync();

        await Expect(page.Locator("[data-test=cancel]")).ToHaveCountAsync(0);
        var forged = await UiPages.PostFormAsync(page, $"runs/{_queuedRun}/cancel", new()
        {
            ["__RequestVerificationToken"] = await UiPages.AntiforgeryTokenAsync(page),
        });

        Assert.That(forged.Status, Is.EqualTo(403));
        Assert.That(await forged.TextAsync(), Does.Contain("Not allowed"));
        Assert.That(ApiClient.Status(await _server.Client().GetRunAsync(_queuedRun)), Is.EqualTo("queued"));
    }

    [Test]
    public async Task CancelRun_ForAMember_IsShown_AndCancelsTheRun()
    {
        using var api = _server.Client();
        var run = await api.TriggerRunAsync("webshop", "name: release\njobs:\n  ship:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n");
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "mia", "mia-password");
        var row = page.Locator("[data-test=last-runs] tbody tr").Filter(new() { HasText = "release" });
        await UiPages.InteractiveAsync(page);

        await row.Locator("[data-test=cancel]").ClickAsync();

        await Expect(row.Locator("[data-status]")).ToHaveAttributeAsync("data-status", "cancelled");
        Assert.That(ApiClient.Status(await api.GetRunAsync(run)), Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task UnknownAddress_WhenSignedIn_ShowsTheNotFoundPage()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "victor", "victor-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();

        var response = await page.GotoAsync("no/such/page");

        Assert.That(response!.Status, Is.EqualTo(404));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
    }

    [Test]
    public async Task SignOut_EndsTheSession()
    {
        var page = await _browser.NewPageAsync(_server);
        await UiPages.SignInAsync(page, "victor", "victor-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/signin$"));
        await page.GotoAsync("");
        await Expect(page).ToHaveURLAsync(new Regex("/signin\\?ReturnUrl=%2F$"));
    }
}
