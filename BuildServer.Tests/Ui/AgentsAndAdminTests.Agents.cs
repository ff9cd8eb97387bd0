using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>The agents page: registration tokens shown once, a real agent registering with one, the controls and who gets them.</summary>
public sealed partial class AgentsAndAdminTests
{
    [Test]
    public async Task RegistrationToken_CreatedInTheDialog_IsShownOnce_AndRegistersARealAgent_ThatShowsOnlineWithItsLabels()
    {
        var page = await SignedInAsync("alice", "agents");
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);

        await page.Locator("[data-test=new-registration-token]").ClickAsync();
        await page.Locator("[data-test=create-token]").ClickAsync();
        var shown = page.Locator("[data-test=registration-token]");
        await Expect(shown).ToHaveTextAsync(new Regex("^bsr_[A-Za-z0-9_-]{43}$"));
        var token = await shown.TextContentAsync() ?? "";
        var fingerprint = await AgentProcess.ServerFingerprintAsync(_server);
        var command = (await page.Locator("[data-test=agent-command]").TextContentAsync())?.Trim();
        Assert.That(command, Is.EqualTo($"buildserver agent --server {_server.HttpsAddress.ToString().TrimEnd('/')} --token {token} --ca-fingerprint {fingerprint}"));
        await page.Locator("[data-test=copy-token]").ClickAsync();
        await Expect(page.GetByText("Copied.")).ToBeVisibleAsync();
        Assert.That(await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"), Is.EqualTo(token));
        // The README shows this dialog: its token is replaced by one that says what it is (the real one registers below).
        await page.EvaluateAsync("""
            token => document.querySelectorAll('[data-test=registration-token], [data-test=agent-command]').forEach(e =>
                e.textContent = e.textContent.replace(token, 'bsr_TEST-token-of-a-throwaway-test-server-0000000'))
            """, token);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Repository.Root, "docs", "screenshots", "agent-token.png") }); // the viewport: the dialog over the page
        await page.Locator("[data-test=close-token]").ClickAsync();

        await using var agent = await AgentProcess.StartAsync(_server, "build-linux-01", "linux,x64,docker", registrationToken: token, fingerprint: fingerprint);

        // The page refreshes itself: the new agent appears without a reload.
        var row = AgentRow(page, "build-linux-01");
        await Expect(row.Locator("[data-test=online]")).ToHaveAttributeAsync("data-online", "true");
        await Expect(row.Locator("[data-test=label]")).ToHaveTextAsync(["linux", "x64", "docker"]);
        await Expect(row.Locator("[data-test=state]")).ToHaveAttributeAsync("data-state", "enabled");
        await Expect(row.Locator("[data-test=last-seen] time")).ToHaveAttributeAsync("title", new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"));
        using var api = _server.Client();
        var run = await api.TriggerRunAsync("webshop", "name: image\njobs:\n  build:\n    runs-on: [docker]\n    steps:\n      - run: sleep 60\n");
        var job = await row.Locator("[data-test=running-job]").GetAttributeAsync("href", new() { Timeout = 30_000 });
        var jobId = ApiClient.Job(await api.GetRunAsync(run), "build")["id"]!.GetValue<long>();
        Assert.That(job, Is.EqualTo($"jobs/{jobId}"));
        await Expect(row.Locator("[data-test=slots]")).ToHaveTextAsync(new Regex(@"^1 / \d+$"));
        await Expect(page.GetByText("Copied.")).ToBeHiddenAsync(new() { Timeout = 20_000 }); // the snackbar would cover the page's button
        await Browser.ScreenshotAsync(page, "agents");
        await ApiClient.Expect(await api.Http.PostAsync($"runs/{run}/cancel", null), HttpStatusCode.OK);

        await page.ReloadAsync();
        await Expect(page.Locator("[data-test=registration-tokens]")).ToContainTextAsync(token[..10]);
        Assert.That(await page.ContentAsync(), Does.Not.Contain(token), "the secret is never shown again");
        var tokenRow = page.Locator("[data-test=registration-tokens] tbody tr").Filter(new() { HasText = token[..10] });
        await Expect(tokenRow.Locator("[data-test=token-status]")).ToHaveTextAsync("used");
    }

    [Test]
    public async Task AgentControls_DrainDisableEnableAndDelete_ChangeTheAgent_OnThePageAndInTheApi()
    {
        using var agent = await AgentApi.RegisterAsync(_server, ["linux", "arm64"]);
        var page = await SignedInAsync("alice", "agents");
        var row = AgentRow(page, agent.Name);

        await row.Locator("[data-test=drain]").ClickAsync();
        await Expect(row.Locator("[data-test=state]")).ToHaveAttributeAsync("data-state", "draining");
        Assert.That((await AgentAsync(agent.Id))["draining"]!.GetValue<bool>(), Is.True);

        await row.Locator("[data-test=disable]").ClickAsync();
        await Expect(row.Locator("[data-test=state]")).ToHaveAttributeAsync("data-state", "disabled");
        Assert.That((await AgentAsync(agent.Id))["disabled"]!.GetValue<bool>(), Is.True);
        Assert.That((await agent.Http.GetAsync("whoami")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a disabled agent's token is refused");

        await row.Locator("[data-test=enable]").ClickAsync();
        await Expect(row.Locator("[data-test=state]")).ToHaveAttributeAsync("data-state", "enabled");
        var enabled = await AgentAsync(agent.Id);
        Assert.That((enabled["disabled"]!.GetValue<bool>(), enabled["draining"]!.GetValue<bool>()), Is.EqualTo((false, false)));

        await UiPages.InteractiveAsync(page);
        await row.Locator("[data-test=delete]").ClickAsync();
        await page.Locator("[data-test=confirm-delete]").ClickAsync();
        await Expect(row).ToHaveCountAsync(0);
        using var api = _server.Client();
        await ApiClient.Expect(await api.Http.GetAsync($"agents/{agent.Id}"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Agents_ForAMember_ShowNoControls_AndForgedPostsAreRefused()
    {
        using var agent = await AgentApi.RegisterAsync(_server, ["linux"]);
        var registration = await RegistrationTokenAsync(new { });
        var page = await SignedInAsync("mia", "agents", width: 390, height: 844);

        await Expect(AgentRow(page, agent.Name).Locator("[data-test=online]")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=agents] [data-test=agent]").First).ToBeInViewportAsync();
        await Expect(page.Locator("[data-test=agent-controls]")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-test=new-registration-token]")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-test=registration-tokens]")).ToHaveCountAsync(0);
        var antiforgery = await UiPages.AntiforgeryTokenAsync(page);
        var disable = await UiPages.PostFormAsync(page, $"agents/{agent.Id}/disable", new() { ["__RequestVerificationToken"] = antiforgery });
        var delete = await UiPages.PostFormAsync(page, $"agents/{agent.Id}/delete", new() { ["__RequestVerificationToken"] = antiforgery });
        var revoke = await UiPages.PostFormAsync(page, $"agents/registration-tokens/{registration["id"]}/revoke", new() { ["__RequestVerificationToken"] = antiforgery });

        Assert.That(new[] { disable.Status, delete.Status, revoke.Status }, Is.All.EqualTo(403));
        Assert.That(await disable.TextAsync(), Does.Contain("Not allowed"));
        Assert.That((await AgentAsync(agent.Id))["disabled"]!.GetValue<bool>(), Is.False);
        using var api = _server.Client();
        var tokens = await ApiClient.ExpectAsync(await api.Http.GetAsync("agents/registration-tokens"), HttpStatusCode.OK);
        Assert.That(tokens.AsArray().Single(t => t!["id"]!.GetValue<long>() == registration["id"]!.GetValue<long>())!["revoked"]!.GetValue<bool>(), Is.False);
    }

    [Test]
    public async Task Agents_ForAnOrganisationsAdmin_ControlThatOrganisationsAgentsAndTokensOnly()
    {
        using var own = await AgentApi.RegisterAsync(_server, ["linux", "acme-only"], org: "acme");
        using var global = await AgentApi.RegisterAsync(_server, ["linux"]);
        var page = await SignedInAsync("olga", "agents");

        await Expect(AgentRow(page, own.Name).Locator("[data-test=agent-controls]")).ToBeVisibleAsync();
        await Expect(AgentRow(page, global.Name).Locator("[data-test=online]")).ToBeVisibleAsync();
        await Expect(AgentRow(page, global.Name).Locator("[data-test=agent-controls]")).ToHaveCountAsync(0);
        await page.Locator("[data-test=new-registration-token]").ClickAsync();
        await page.Locator("[data-test=create-token]").ClickAsync();
        await Expect(page.Locator("[data-test=registration-token-dialog]")).ToContainTextAsync("one-time, acme");
        await page.Locator("[data-test=close-token]").ClickAsync();
        await Expect(page.Locator("[data-test=registration-tokens] tbody tr")).Not.ToHaveCountAsync(0);
        foreach (var scope in await page.Locator("[data-test=registration-tokens] tbody td[data-label=For]").AllTextContentsAsync())
        {
            Assert.That(scope, Is.EqualTo("acme"), "an organisation's admin sees only its tokens");
        }

        var antiforgery = await UiPages.AntiforgeryTokenAsync(page);
        var forged = await UiPages.PostFormAsync(page, $"agents/{global.Id}/drain", new() { ["__RequestVerificationToken"] = antiforgery });
        var allowed = await UiPages.PostFormAsync(page, $"agents/{own.Id}/drain", new() { ["__RequestVerificationToken"] = antiforgery });

        Assert.That((forged.Status, allowed.Status), Is.EqualTo((403, 302)));
        Assert.That((await AgentAsync(global.Id))["draining"]!.GetValue<bool>(), Is.False);
        Assert.That((await AgentAsync(own.Id))["draining"]!.GetValue<bool>(), Is.True);
    }
}
