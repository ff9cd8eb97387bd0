using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// The agents page and the administration pages, in a real browser against the real server (and a real remote agent
/// process). One server for the fixture, seeded once: organisations acme and globex, a project of acme with a run that
/// stays queued (no agent has its label), a server admin (alice), a member of acme (mia) and an admin of acme (olga).
/// </summary>
[NonParallelizable]
public sealed partial class AgentsAndAdminTests
{
    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private long _acme;
    private long _globex;
    private long _alice;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Runs:LabelTimeout=01:00:00");
        _browser = await Browser.LaunchAsync();
        _acme = await UiPages.CreateOrgAsync(_server, "acme");
        _globex = await UiPages.CreateOrgAsync(_server, "globex");
        await UiPages.CreateProjectAsync(_server, "webshop", "acme");
        _alice = await UiPages.CreateUserAsync(_server, "alice", "alice-password", serverAdmin: true);
        await UiPages.CreateUserAsync(_server, "mia", "mia-password", roles: new() { [$"{_acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "olga", "olga-password", roles: new() { [$"{_acme}"] = "admin" });
        using var api = _server.Client();
        await api.TriggerRunAsync("webshop", "name: nightly\njobs:\n  ship:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>A page signed in as <paramref name="user"/> (password: the name and "-password"), at <paramref name="path"/>, with its circuit running.</summary>
    private async Task<IPage> SignedInAsync(string user, string path, int width = 1280, int height = 800)
    {
        var page = await _browser.NewPageAsync(_server, width, height);
        await UiPages.SignInAsync(page, user, user + "-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await page.GotoAsync(path);
        await UiPages.InteractiveAsync(page);
        return page;
    }

    private async Task<JsonNode> AgentAsync(long id)
    {
        using var api = _server.Client();
        return await ApiClient.ExpectAsync(await api.Http.GetAsync($"agents/{id}"), HttpStatusCode.OK);
    }

    private async Task<JsonNode> RegistrationTokenAsync(object body)
    {
        using var api = _server.Client();
        return await ApiClient.ExpectAsync(await api.Http.PostAsJsonAsync("agents/registration-tokens", body), HttpStatusCode.Created);
    }

    private static ILocator AgentRow(IPage page, string name) =>
        page.Locator("[data-test=agents] tbody tr").Filter(new() { Has = page.Locator($"[data-agent-name='{name}']") });
}
