using System.Net;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace BuildServer.Tests.Ui;

/// <summary>
/// The projects pages in a real browser against the real server, seeded once: organisations acme, globex and initech;
/// a server admin (alice), an admin of acme and initech who is a member of globex (olga), members of acme (mia, max)
/// and a viewer of acme (victor). Projects: webshop (a workflow_dispatch pipeline with inputs, and finished runs),
/// legacy (a pipeline that does not parse), mover (for the settings), history (23 runs, for the pages) in acme, and
/// billing in globex.
/// </summary>
[NonParallelizable]
public sealed partial class ProjectPagesTests
{
    private const string Sha = "9c1e2f3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0";
    private ServerProcess _server = null!;
    private Browser _browser = null!;
    private string _pipelines = null!;
    private long _acme;
    private long _max;

    private const string Dispatch = """
        name: deploy
        on:
          workflow_dispatch:
            inputs:
              target:
                type: string
                description: The host group to deploy to
                required: true
              level:
                type: choice
                description: How much the deploy logs
                options: [info, debug]
                default: info
              dry_run:
                type: boolean
                description: Only print what would change
                default: false
              replicas:
                type: number
                default: 2
        jobs:
          deploy:
            steps:
              - run: echo "target=${{ inputs.target }} level=${{ inputs.level }} dry=${{ inputs.dry_run }} replicas=${{ inputs.replicas }}"
        """;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _pipelines = Directory.CreateTempSubdirectory("bs-pipelines-").FullName;
        await File.WriteAllTextAsync(Path.Combine(_pipelines, "deploy.yml"), Dispatch);
        await File.WriteAllTextAsync(Path.Combine(_pipelines, "broken.yml"), "name: legacy\njobs:\n  build:\n    stepz: []\n    steps: [{run: echo}]\n");
        _server = await ServerProcess.StartAsync(Db.Sqlite);
        _browser = await Browser.LaunchAsync();
        _acme = await UiPages.CreateOrgAsync(_server, "acme");
        var globex = await UiPages.CreateOrgAsync(_server, "globex");
        var initech = await UiPages.CreateOrgAsync(_server, "initech");
        await UiPages.CreateUserAsync(_server, "alice", "alice-password", serverAdmin: true);
        await UiPages.CreateUserAsync(_server, "olga", "olga-password", roles: new() { [$"{_acme}"] = "admin", [$"{initech}"] = "admin", [$"{globex}"] = "member" });
        await UiPages.CreateUserAsync(_server, "mia", "mia-password", roles: new() { [$"{_acme}"] = "member" });
        _max = await UiPages.CreateUserAsync(_server, "max", "max-password", roles: new() { [$"{_acme}"] = "member" });
        await UiPages.CreateUserAsync(_server, "victor", "victor-password", roles: new() { [$"{_acme}"] = "viewer" });

        using var api = _server.Client();
        await CreateProjectAsync(api, new { name = "webshop", org = "acme", pipelinePath = Path.Combine(_pipelines, "deploy.yml") });
        await CreateProjectAsync(api, new { name = "legacy", org = "acme", pipelinePath = Path.Combine(_pipelines, "broken.yml") });
        await CreateProjectAsync(api, new { name = "mover", org = "acme", pipelinePath = "/srv/mover/ci.yml" });
        await CreateProjectAsync(api, new { name = "history", org = "acme" });
        await CreateProjectAsync(api, new { name = "billing", org = "globex" });
        var runs = new List<long>
        {
            await TriggerAsync(api, "webshop", "name: ci\njobs:\n  build:\n    steps:\n      - run: echo built\n", "refs/heads/main"),
            await TriggerAsync(api, "webshop", "name: ci\njobs:\n  test:\n    steps:\n      - run: exit 3\n", "refs/heads/feature/cart"),
            await TriggerAsync(api, "billing", "name: ci\njobs:\n  build:\n    steps:\n      - run: echo billed\n", "refs/heads/main"),
        };
        for (var i = 1; i <= 23; i++)
        {
            runs.Add(await TriggerAsync(api, "history", $"name: nightly {i}\njobs:\n  build:\n    steps:\n      - run: echo {i}\n", "refs/heads/main"));
        }
        foreach (var run in runs) await api.WaitForRunAsync(run);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _browser.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_pipelines, recursive: true);
    }

    private static async Task CreateProjectAsync(ApiClient api, object project) =>
        await ApiClient.ExpectAsync(await api.Http.PostAsync("projects", System.Net.Http.Json.JsonContent.Create(project)), HttpStatusCode.Created);

    private static async Task<long> TriggerAsync(ApiClient api, string project, string pipeline, string gitRef) =>
        (await ApiClient.ExpectAsync(await api.TriggerAsync(project, null, new { pipeline, @ref = gitRef, sha = Sha }), HttpStatusCode.Created))["id"]!.GetValue<long>();

    private async Task<IPage> SignedInAsync(string user, string path, int width = 1280)
    {
        var page = await _browser.NewPageAsync(_server, width: width);
        await UiPages.SignInAsync(page, user, user + "-password");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        if (path.Length > 0) await page.GotoAsync(path);
        await UiPages.InteractiveAsync(page);
        return page;
    }

    private static ILocator Rows(IPage page, string table) => page.Locator($"[data-test={table}] tbody tr");

    [Test]
    public async Task ProjectsPage_ForAViewer_ListsHisOrganisationsProjects_WithTheirLastRun_AndNoNewProjectButton()
    {
        var page = await SignedInAsync("victor", "projects");

        await Expect(Rows(page, "projects").Locator("[data-test=project]")).ToHaveTextAsync(["history", "legacy", "mover", "webshop"]);
        var webshop = Rows(page, "projects").Filter(new() { HasText = "webshop" });
        await Expect(webshop.Locator("[data-test=org]")).ToHaveTextAsync("acme");
        await Expect(webshop.Locator("[data-test=last-run] [data-status]")).ToHaveAttributeAsync("data-status", "failed");
        await Expect(webshop.Locator("[data-test=last-run]")).ToContainTextAsync("#2");
        await Expect(webshop).ToContainTextAsync("feature/cart");
        await Expect(webshop.Locator("time")).ToHaveAttributeAsync("title", new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"));
        await Expect(Rows(page, "projects").Filter(new() { HasText = "mover" }).Locator("[data-test=last-run]")).ToHaveTextAsync("No run yet");
        await Expect(page.Locator("[data-test=new-project]")).ToHaveCountAsync(0);
    }

    [Test]
    public async Task ProjectsPage_ForAServerAdmin_ListsEveryOrganisationsProjects()
    {
        var page = await SignedInAsync("alice", "");
        await page.GetByRole(AriaRole.Link, new() { Name = "Projects", Exact = true }).ClickAsync();

        foreach (var (project, org) in new[] { ("billing", "globex"), ("history", "acme"), ("legacy", "acme"), ("webshop", "acme") })
        {
            await Expect(Rows(page, "projects").Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = project, Exact = true }) }).Locator("[data-test=org]")).ToHaveTextAsync(org);
        }
        await Expect(page.Locator("[data-test=new-project]")).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "projects");
    }

    [Test]
    public async Task ProjectPages_ForAViewer_HaveNoRunOrSettingsControl_AndTheFormPagesAreRefused()
    {
        var page = await SignedInAsync("victor", "projects/webshop");
        await Expect(Rows(page, "runs")).ToHaveCountAsync(2);

        await Expect(page.Locator("[data-test=run]")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-test=settings]")).ToHaveCountAsync(0);
        var newProject = await page.GotoAsync("projects/new");
        Assert.That(newProject!.Status, Is.EqualTo(403));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
        var settings = await page.GotoAsync("projects/webshop/settings");
        Assert.That(settings!.Status, Is.EqualTo(403));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
        var otherOrgs = await page.GotoAsync("projects/billing");
        Assert.That(otherOrgs!.Status, Is.EqualTo(404), "a project of an organisation he may not see is not found");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
    }

    [Test]
    public async Task NewProject_ByAnOrgAdmin_OffersOnlyHerOrganisations_AndOpensTheNewProject()
    {
        var page = await SignedInAsync("olga", "projects");
        await page.Locator("[data-test=new-project]").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New project" })).ToBeVisibleAsync();
        await UiPages.InteractiveAsync(page);

        await page.Locator("[data-test=field-org]").GetByRole(AriaRole.Combobox).ClickAsync();
        await Expect(UiPages.Options(page)).ToHaveTextAsync(["acme", "initech"]);
        await UiPages.Options(page).Filter(new() { HasText = "initech" }).ClickAsync();
        await page.Locator("[data-test=field-name] input").FillAsync("storefront");
        await page.Locator("[data-test=field-pipelinePath] input").FillAsync("/srv/storefront/.buildserver.yml");
        await UiPages.ChooseAsync(page, page.Locator("[data-test=field-defaultLane]"), "high");
        await page.Locator("[data-test=create]").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/projects/storefront$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "storefront" })).ToBeVisibleAsync();
        await Expect(page.Locator("[data-test=no-runs]")).ToBeVisibleAsync();
        var created = await ApiClient.ExpectAsync(await _server.Client().Http.GetAsync("projects/storefront"), HttpStatusCode.OK);
        Assert.That((created["org"]!.GetValue<string>(), created["defaultLane"]!.GetValue<string>(), created["pipelinePath"]!.GetValue<string>()),
            Is.EqualTo(("initech", "high", "/srv/storefront/.buildserver.yml")));
    }

    [TestCase("webshop", "A project named 'webshop' already exists.")]
    [TestCase("shop front", "A project name is 1-100 characters of letters, digits, '.', '_' or '-', starts with a letter or digit, and is not a number.")]
    public async Task NewProject_WithATakenOrInvalidName_ShowsTheNamesError_AndStoresNothing(string name, string error)
    {
        var before = await DatabaseRows.CountAsync(_server, "projects");
        var page = await SignedInAsync("olga", "projects/new");
        await UiPages.ChooseAsync(page, page.Locator("[data-test=field-org]"), "acme");

        await page.Locator("[data-test=field-name] input").FillAsync(name);
        await page.Locator("[data-test=field-name] input").PressAsync("Enter");

        await Expect(page.Locator("[data-test=field-name]").Locator(UiPages.FieldError)).ToHaveTextAsync(error);
        await Expect(page).ToHaveURLAsync(new Regex("/projects/new$"));
        Assert.That(await DatabaseRows.CountAsync(_server, "projects"), Is.EqualTo(before));
    }
}
