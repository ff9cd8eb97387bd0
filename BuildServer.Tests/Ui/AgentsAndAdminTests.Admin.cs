using System.Net;
using System.Net.Http.Headers;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>The administration pages: organisations, users and roles, API tokens; only for server admins.</summary>
public sealed partial class AgentsAndAdminTests
{
    [Test]
    public async Task Orgs_CreatedWithQuotaAndWeight_WhileAQuotaBelowZeroIsRefusedUnderItsField()
    {
        var page = await SignedInAsync("alice", "admin/orgs");

        await page.Locator("[data-test=new-org]").ClickAsync();
        await page.Locator("[data-test=org-name-input]").FillAsync("platform");
        await page.Locator("[data-test=org-quota-input]").FillAsync("-1");
        await page.Locator("[data-test=org-weight-input]").FillAsync("3");
        await page.Locator("[data-test=save-org]").ClickAsync();
        await Expect(Field(page, "org-quota-input")).ToContainTextAsync("Enter 0 (no limit) to 100000");
        using var api = _server.Client();
        await ApiClient.Expect(await api.Http.GetAsync("orgs/platform"), HttpStatusCode.NotFound);
        await page.Locator("[data-test=org-quota-input]").FillAsync("2");
        await page.Locator("[data-test=save-org]").ClickAsync();

        var row = page.Locator("[data-test=orgs] tbody tr").Filter(new() { HasText = "platform" });
        await Expect(row.Locator("[data-test=org-quota]")).ToHaveTextAsync("0 / 2");
        await Expect(row.Locator("[data-test=org-weight]")).ToHaveTextAsync("3");
        var org = await ApiClient.ExpectAsync(await api.Http.GetAsync("orgs/platform"), HttpStatusCode.OK);
        Assert.That((org["maxRunning"]!.GetValue<int>(), org["weight"]!.GetValue<double>()), Is.EqualTo((2, 3.0)));

        var globex = page.Locator("[data-test=orgs] tbody tr").Filter(new() { HasText = "globex" });
        await globex.Locator("[data-test=edit-org]").ClickAsync();
        await page.Locator("[data-test=org-weight-input]").FillAsync("0.5");
        await page.Locator("[data-test=save-org]").ClickAsync();
        await Expect(globex.Locator("[data-test=org-weight]")).ToHaveTextAsync("0.5");
        Assert.That((await ApiClient.ExpectAsync(await api.Http.GetAsync("orgs/globex"), HttpStatusCode.OK))["weight"]!.GetValue<double>(), Is.EqualTo(0.5));
        await Eventually.Until(() => _server.Output.Contains($"Admin: user 'alice' (id {_alice}) changed organisation 'globex' (id {_globex}): quota none, weight 0.5.",
            StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the admin log line of the change");
        await Browser.ScreenshotAsync(page, "admin-orgs");
    }

    [Test]
    public async Task Users_CreatedWithARole_SignIn_AndARoleChangedLaterCountsAtOnce()
    {
        var admin = await SignedInAsync("alice", "admin/users");
        await admin.Locator("[data-test=new-user]").ClickAsync();
        await admin.Locator("[data-test=user-name-input]").FillAsync("nina");
        await admin.Locator("[data-test=password-input]").FillAsync("short");
        await ChooseAsync(admin, admin.Locator("[data-test=role-input][data-org=acme]"), "viewer");
        await admin.Locator("[data-test=save-user]").ClickAsync();
        await Expect(Field(admin, "password-input")).ToContainTextAsync("A password has 8 to 200 characters.");
        await admin.Locator("[data-test=password-input]").FillAsync("nina-password");
        await admin.Locator("[data-test=save-user]").ClickAsync();
        var row = admin.Locator("[data-test=users] tbody tr").Filter(new() { HasText = "nina" });
        await Expect(row.Locator("[data-test=role]")).ToHaveTextAsync(["acme: viewer"]);

        var nina = await SignedInAsync("nina", "");
        var nightly = nina.Locator("[data-test=last-runs] tbody tr").Filter(new() { HasText = "nightly" });
        await Expect(nightly).ToBeVisibleAsync();
        await Expect(nightly.Locator("[data-test=cancel]")).ToHaveCountAsync(0);

        await row.Locator("[data-test=edit-user]").ClickAsync();
        await ChooseAsync(admin, admin.Locator("[data-test=role-input][data-org=acme]"), "member");
        await admin.Locator("[data-test=save-user]").ClickAsync();
        await Expect(row.Locator("[data-test=role]")).ToHaveTextAsync(["acme: member"]);
        await Browser.ScreenshotAsync(admin, "admin-users");

        // Nina's open dashboard asks for her roles again at its next refresh: the cancel button appears without a reload.
        await Expect(nightly.Locator("[data-test=cancel]")).ToBeVisibleAsync();
    }

    [Test]
    public async Task Users_TheLastServerAdmin_CannotGiveUpTheFlag_OrBeRemoved()
    {
        var page = await SignedInAsync("alice", "admin/users");
        var me = page.Locator("[data-test=users] tbody tr").Filter(new() { HasText = "alice" });
        await Expect(me.Locator("[data-test=remove-user]")).ToHaveCountAsync(0);

        await me.Locator("[data-test=edit-user]").ClickAsync();
        await page.GetByText("Server admin: may do everything").ClickAsync();
        await page.Locator("[data-test=save-user]").ClickAsync();

        await Expect(page.Locator("[data-test=server-admin-error]")).ToHaveTextAsync("'alice' is the last server admin: make another user a server admin first.");
        using var api = _server.Client();
        var users = await ApiClient.ExpectAsync(await api.Http.GetAsync("users"), HttpStatusCode.OK);
        Assert.That(users.AsArray().Single(u => u!["userName"]!.GetValue<string>() == "alice")!["serverAdmin"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Users_PasswordReset_LetsThemSignInWithTheNewOne_AndRemovingThemEndsTheirSession()
    {
        await UiPages.CreateUserAsync(_server, "rita", "rita-old-password", roles: new() { [$"{_globex}"] = "viewer" });
        var admin = await SignedInAsync("alice", "admin/users");
        var row = admin.Locator("[data-test=users] tbody tr").Filter(new() { HasText = "rita" });

        await row.Locator("[data-test=reset-password]").ClickAsync();
        await admin.Locator("[data-test=new-password-input]").FillAsync("rita-password");
        await admin.Locator("[data-test=repeat-password-input]").FillAsync("rita-passwort");
        await admin.Locator("[data-test=save-password]").ClickAsync();
        await Expect(Field(admin, "repeat-password-input")).ToContainTextAsync("The two passwords differ.");
        await admin.Locator("[data-test=repeat-password-input]").FillAsync("rita-password");
        await admin.Locator("[data-test=save-password]").ClickAsync();
        await Expect(admin.Locator("[data-test=password-dialog]")).ToHaveCountAsync(0);
        var rita = await SignedInAsync("rita", "");

        await row.Locator("[data-test=remove-user]").ClickAsync();
        await admin.GetByRole(AriaRole.Button, new() { Name = "Remove", Exact = true }).ClickAsync();
        await Expect(row).ToHaveCountAsync(0);
        await rita.GotoAsync("");
        await Expect(rita).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin\\?ReturnUrl=%2F$"), new() { Timeout = 5_000 });
        await UiPages.SignInAsync(rita, "rita", "rita-password");
        await Expect(rita.Locator("[data-test=form-error]")).ToHaveTextAsync("The user name or the password is wrong.");
    }

    [Test]
    public async Task ApiToken_CreatedInThePage_OpensTheApi_UntilItIsRevoked()
    {
        var page = await SignedInAsync("alice", "admin/tokens");
        await page.Locator("[data-test=new-api-token]").ClickAsync();
        await page.Locator("[data-test=create-api-token]").ClickAsync();
        await Expect(Field(page, "api-token-name-input")).ToContainTextAsync("A token needs a name of 1 to 200 characters.");
        await page.Locator("[data-test=api-token-name-input]").FillAsync("deploy-bot");
        await page.Locator("[data-test=create-api-token]").ClickAsync();
        var token = await page.Locator("[data-test=api-token]").TextContentAsync() ?? "";
        Assert.That(token, Does.StartWith("bs_"));
        await page.Locator("[data-test=close-api-token]").ClickAsync();
        using var http = new HttpClient { BaseAddress = new Uri(_server.BaseAddress, "api/v1/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        Assert.That((await http.GetAsync("orgs")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await page.ReloadAsync();
        await UiPages.InteractiveAsync(page);
        var row = page.Locator("[data-test=api-tokens] tbody tr").Filter(new() { HasText = "deploy-bot" });
        await Expect(row.Locator("[data-test=api-token-prefix]")).ToHaveTextAsync(token[..8] + "…");
        Assert.That(await page.ContentAsync(), Does.Not.Contain(token), "the secret is never shown again");
        await row.Locator("[data-test=revoke-api-token]").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke", Exact = true }).ClickAsync();

        await Expect(row.Locator("[data-test=api-token-status]")).ToContainTextAsync("revoked");
        Assert.That((await http.GetAsync("orgs")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task AdminPages_ForANonAdmin_AreForbidden_AndNotInTheDrawer_WhileAnAdminFindsThemAndHangfire()
    {
        var member = await SignedInAsync("olga", "agents");
        await Expect(member.Locator(".mud-drawer").GetByRole(AriaRole.Link, new() { Name = "Agents" })).ToBeVisibleAsync();
        await Expect(member.Locator("[data-test=admin-section]")).ToHaveCountAsync(0);
        foreach (var path in new[] { "admin/orgs", "admin/users", "admin/tokens" })
        {
            var response = await member.GotoAsync(path);
            Assert.That(response!.Status, Is.EqualTo(403), path);
            await Expect(member.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
        }

        var admin = await SignedInAsync("alice", "");
        await Expect(admin.Locator("[data-test=admin-section]")).ToBeVisibleAsync();
        await admin.Locator(".mud-drawer").GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await Expect(admin.GetByRole(AriaRole.Heading, new() { Name = "Users" })).ToBeVisibleAsync();
        await admin.Locator(".mud-drawer").GetByRole(AriaRole.Link, new() { Name = "Hangfire" }).ClickAsync();
        await Expect(admin).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/hangfire$"));
        await Expect(admin.Locator("body")).ToContainTextAsync("Hangfire");
    }

    /// <summary>A MudBlazor field (its input, label and error text) by its input's data-test.</summary>
    private static ILocator Field(IPage page, string test) =>
        page.Locator(".mud-input-control").Filter(new() { Has = page.Locator($"[data-test={test}]") });

    /// <summary>Picks <paramref name="option"/> in a MudSelect (its list opens in a popover).</summary>
    private static async Task ChooseAsync(IPage page, ILocator select, string option)
    {
        await select.ClickAsync();
        await page.Locator(".mud-popover-open .mud-list-item").GetByText(option, new() { Exact = true }).ClickAsync();
        await Expect(page.Locator(".mud-popover-open .mud-list-item")).ToHaveCountAsync(0);
    }
}
