using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary><c>PATCH /api/v1/projects/{project}</c>: a project's settings changed, validated like its creation, and in
/// force for the very next run (the project lookup's cache forgets the old settings).</summary>
[NonParallelizable]
public sealed class ProjectSettingsTests
{
    private const string Waits = "jobs:\n  work:\n    runs-on: [nowhere]\n    steps:\n      - run: echo never\n";
    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Runs:LabelTimeout=01:00:00");
        _api = _server.Client();
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("orgs", new { name = "platform" }), HttpStatusCode.Created);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<JsonNode> PatchAsync(string project, object body, HttpStatusCode expected) =>
        await ApiClient.ExpectAsync(await _api.Http.PatchAsJsonAsync($"projects/{project}", body), expected);

    private async Task<JsonNode> QueuedJobAsync(long run) =>
        (await ApiClient.ExpectAsync(await _api.Http.GetAsync("queue"), HttpStatusCode.OK)).AsArray().Single(w => w!["runId"]!.GetValue<long>() == run)!;

    [Test]
    public async Task UpdateProject_ChangesItsSettings_AndTheNextRunUsesThem()
    {
        await _api.CreateProjectAsync("shop");
        var before = await _api.TriggerRunAsync("shop", Waits); // the project lookup is cached from here

        var updated = await PatchAsync("shop", new { org = "platform", defaultLane = "low", maxLane = "high", pipelinePath = "/srv/shop/ci.yml", repositoryUrl = "https://git.example/shop" }, HttpStatusCode.OK);
        var after = await _api.TriggerRunAsync("shop", Waits);

        Assert.That(updated.ToJsonString(), Does.Contain("\"org\":\"platform\"").And.Contain("\"defaultLane\":\"low\"").And.Contain("\"maxLane\":\"high\"")
            .And.Contain("\"pipelinePath\":\"/srv/shop/ci.yml\"").And.Contain("\"repositoryUrl\":\"https://git.example/shop\""));
        Assert.That((await ApiClient.ExpectAsync(await _api.Http.GetAsync("projects/shop"), HttpStatusCode.OK)).ToJsonString(), Is.EqualTo(updated.ToJsonString()));
        var old = await QueuedJobAsync(before);
        var next = await QueuedJobAsync(after);
        Assert.That((old["org"]!.GetValue<string>(), old["lane"]!.GetValue<string>()), Is.EqualTo(("default", "normal")), "a run made before keeps its organisation and lane");
        Assert.That((next["org"]!.GetValue<string>(), next["lane"]!.GetValue<string>()), Is.EqualTo(("platform", "low")));
        var cleared = await PatchAsync("shop", new { pipelinePath = "", repositoryUrl = "" }, HttpStatusCode.OK);
        Assert.That((cleared["pipelinePath"], cleared["repositoryUrl"], cleared["defaultLane"]!.GetValue<string>()), Is.EqualTo(((JsonNode?)null, (JsonNode?)null, "low")));
    }

    [Test]
    public async Task UpdateProject_BadFields_Are400NamingEachField_AndChangeNothing()
    {
        await _api.CreateProjectAsync("steady");
        var stored = (await ApiClient.ExpectAsync(await _api.Http.GetAsync("projects/steady"), HttpStatusCode.OK)).ToJsonString();

        var problem = await PatchAsync("steady", new { name = "renamed", org = "nowhere", defaultLane = "urgent", repositoryUrl = "not a url", pipelinePath = new string('p', 1001) }, HttpStatusCode.BadRequest);
        var order = await PatchAsync("steady", new { defaultLane = "critical", maxLane = "normal" }, HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]!.AsObject().Select(e => e.Key), Is.EquivalentTo(new[] { "name", "org", "defaultLane", "repositoryUrl", "pipelinePath" }));
        Assert.That(problem["errors"]!["org"]![0]!.GetValue<string>(), Is.EqualTo("Unknown organisation 'nowhere'."));
        Assert.That(problem["errors"]!["name"]![0]!.GetValue<string>(), Is.EqualTo("A project cannot be renamed."));
        Assert.That(order["errors"]!["defaultLane"]![0]!.GetValue<string>(), Is.EqualTo("The default lane (critical) is above the highest lane (normal) the project may use."));
        Assert.That((await ApiClient.ExpectAsync(await _api.Http.GetAsync("projects/steady"), HttpStatusCode.OK)).ToJsonString(), Is.EqualTo(stored));
    }

    [Test]
    public async Task UpdateProject_Unknown_Is404_AndWithoutAToken_Is401()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(_server.BaseAddress, "api/v1/") };

        await ApiClient.Expect(await _api.Http.PatchAsJsonAsync("projects/ghost", new { defaultLane = "low" }), HttpStatusCode.NotFound);
        await ApiClient.Expect(await anonymous.PatchAsJsonAsync("projects/shop", new { defaultLane = "low" }), HttpStatusCode.Unauthorized);
    }

    [TestCase("{\"name\":\"new\"}", "name", "the address of the new-project page")]
    [TestCase("{\"name\":\"capped\",\"defaultLane\":\"high\",\"maxLane\":\"low\"}", "defaultLane", "above the highest lane")]
    public async Task CreateProject_AgainstTheSameRules_Is400(string body, string field, string message)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        var problem = await ApiClient.ExpectAsync(await _api.Http.PostAsync("projects", content), HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]![field]![0]!.GetValue<string>(), Does.Contain(message));
    }
}
