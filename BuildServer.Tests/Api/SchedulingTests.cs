using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// Lanes, quotas and the organisations API against the real server with one built-in agent slot, so that the
/// order in which waiting jobs start is the scheduler's decision alone. A "gate" job holds the slot until the
/// test has queued everything (it waits for a file the test creates), so no step timing is involved.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
[NonParallelizable]
public sealed class SchedulingTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;
    private string _gateDir = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=1");
        _api = _server.Client();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [SetUp]
    public void CreateGateFolder() => _gateDir = Directory.CreateTempSubdirectory("bs-gate-").FullName;

    [TearDown]
    public void RemoveGateFolder() => Directory.Delete(_gateDir, recursive: true);

    private string Gate => $"jobs:\n  gate:\n    steps:\n      - run: while [ ! -f {_gateDir}/open ]; do sleep 0.05; done\n";

    private static string OneJob(string priority) => $"priority: {priority}\njobs:\n  work:\n    steps:\n      - run: echo {priority}\n";

    private async Task<long> HoldTheSlotAsync(string project)
    {
        var gate = await _api.TriggerRunAsync(project, Gate);
        await _api.WaitForRunAsync(gate, statuses: "running");
        return gate;
    }

    private static DateTimeOffset Started(JsonNode run) => run["jobs"]![0]!["attempts"]![0]!["startedAt"]!.GetValue<DateTimeOffset>();

    private static DateTimeOffset Finished(JsonNode run) => run["jobs"]![0]!["attempts"]![0]!["finishedAt"]!.GetValue<DateTimeOffset>();

    [Test]
    public async Task WaitingJobs_StartInLaneOrder_NotInArrivalOrder()
    {
        var project = "lanes-" + db;
        await _api.CreateProjectAsync(project);
        var gate = await HoldTheSlotAsync(project);
        var low = await _api.TriggerRunAsync(project, OneJob("low"));
        var normal = await _api.TriggerRunAsync(project, OneJob("normal"));
        var critical = await _api.TriggerRunAsync(project, OneJob("critical"));
        var high = await _api.TriggerRunAsync(project, OneJob("high"));

        await File.WriteAllTextAsync(Path.Combine(_gateDir, "open"), "");

        await _api.WaitForRunAsync(gate);
        var runs = new List<JsonNode>();
        foreach (var id in new[] { critical, high, normal, low }) runs.Add(await _api.WaitForRunAsync(id));
        Assert.That(runs.Select(ApiClient.Status), Is.All.EqualTo("succeeded"));
        var starts = runs.Select(Started).ToList();
        Assert.That(starts, Is.Ordered, "critical, high, normal, low: " + string.Join(", ", starts.Select(s => s.ToString("HH:mm:ss.fff"))));
    }

    [Test]
    public async Task OrgAtQuota_ItsNextJobWaitsForItsRunningOne_OtherOrgsDoNot()
    {
        // A quota is only visible with more free slots than the quota: its own server with 3 slots.
        await using var wide = await ServerProcess.StartAsync(db, "--Agent:Slots=3");
        using var api = wide.Client();
        await ApiClient.ExpectAsync(await api.Http.PostAsJsonAsync("orgs", new { name = "acme", maxRunning = 1, weight = 1 }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await api.Http.PostAsJsonAsync("projects", new { name = "acme-app", org = "acme" }), HttpStatusCode.Created);

        var run = await api.TriggerRunAsync("acme-app",
            "jobs:\n  a:\n    steps:\n      - run: sleep 0.5\n  b:\n    steps:\n      - run: sleep 0.5\n  c:\n    steps:\n      - run: sleep 0.5\n");
        var done = await api.WaitForRunAsync(run);

        Assert.That(ApiClient.Status(done), Is.EqualTo("succeeded"));
        var spans = done["jobs"]!.AsArray()
            .Select(j => (Start: j!["attempts"]![0]!["startedAt"]!.GetValue<DateTimeOffset>(), End: j["attempts"]![0]!["finishedAt"]!.GetValue<DateTimeOffset>()))
            .OrderBy(s => s.Start).ToList();
        for (var i = 1; i < spans.Count; i++)
        {
            Assert.That(spans[i].Start, Is.GreaterThanOrEqualTo(spans[i - 1].End), "with a quota of 1, the org's jobs never overlap although 3 slots are free");
        }
    }

    [Test]
    public async Task RaisingAQuota_LetsWaitingJobsStart()
    {
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("orgs", new { name = "frozen-" + db, maxRunning = 1 }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = "frozen-app-" + db, org = "frozen-" + db }), HttpStatusCode.Created);
        var gate = await HoldTheSlotAsync("frozen-app-" + db);
        var next = await _api.TriggerRunAsync("frozen-app-" + db, OneJob("normal"));
        await File.WriteAllTextAsync(Path.Combine(_gateDir, "open"), "");
        var first = await _api.WaitForRunAsync(gate);
        var second = await _api.WaitForRunAsync(next);

        Assert.That(Started(second), Is.GreaterThanOrEqualTo(Finished(first)));
        var changed = await ApiClient.ExpectAsync(await _api.Http.PatchAsJsonAsync("orgs/frozen-" + db, new { maxRunning = 5, weight = 2.5 }), HttpStatusCode.OK);
        Assert.That(changed["maxRunning"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(changed["weight"]!.GetValue<double>(), Is.EqualTo(2.5));
    }

    [TestCase("{\"name\":\"neg\",\"maxRunning\":-1}", "maxRunning")]
    [TestCase("{\"name\":\"zero\",\"weight\":0}", "weight")]
    [TestCase("{\"name\":\"huge\",\"weight\":1e9}", "weight")]
    [TestCase("{\"name\":\"12345\"}", "name")]
    [TestCase("{\"maxRunning\":1}", "name")]
    public async Task CreateOrg_BadInput_Is400NamingTheField(string body, string field)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var problem = await ApiClient.ExpectAsync(await _api.Http.PostAsync("orgs", content), HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
    }

    [Test]
    public async Task OrgApi_DuplicateIs409_MissingIs404_UnknownLaneIs400()
    {
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("orgs", new { name = "twice-" + db }), HttpStatusCode.Created);
        await ApiClient.Expect(await _api.Http.PostAsJsonAsync("orgs", new { name = "twice-" + db }), HttpStatusCode.Conflict);
        await ApiClient.Expect(await _api.Http.PatchAsJsonAsync("orgs/nowhere", new { maxRunning = 1 }), HttpStatusCode.NotFound);
        var problem = await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = "lane-" + db, defaultLane = "urgent" }), HttpStatusCode.BadRequest);
        Assert.That(problem["errors"]!["defaultLane"]![0]!.GetValue<string>(), Does.Contain("Unknown lane 'urgent'"));
        var numeric = await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = "numeric-org-" + db, org = "12345" }), HttpStatusCode.BadRequest);
        Assert.That(numeric["errors"]!["org"], Is.Not.Null, "an org named like an id could not be addressed by name");
        var listed = await ApiClient.ExpectAsync(await _api.Http.GetAsync("orgs"), HttpStatusCode.OK);
        Assert.That(listed.AsArray().Select(o => o!["name"]!.GetValue<string>()), Does.Contain("twice-" + db));
    }

    [Test]
    public async Task ProjectLanes_DefaultAppliesAndTheCapHolds()
    {
        var created = await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = "capped-" + db, defaultLane = "low", maxLane = "normal" }), HttpStatusCode.Created);
        Assert.That(created["defaultLane"]!.GetValue<string>(), Is.EqualTo("low"));
        Assert.That(created["maxLane"]!.GetValue<string>(), Is.EqualTo("normal"));
        var project = "capped-" + db;
        var gate = await HoldTheSlotAsync(project);
        var asksCritical = await _api.TriggerRunAsync(project, OneJob("critical")); // capped to normal
        var defaultLow = await _api.TriggerRunAsync(project, "jobs:\n  work:\n    steps:\n      - run: echo default\n");
        await _api.CreateProjectAsync("uncapped-" + db);
        var high = await _api.TriggerRunAsync("uncapped-" + db, OneJob("high"));

        await File.WriteAllTextAsync(Path.Combine(_gateDir, "open"), "");
        await _api.WaitForRunAsync(gate);
        var starts = new List<DateTimeOffset>();
        foreach (var id in new[] { high, asksCritical, defaultLow }) starts.Add(Started(await _api.WaitForRunAsync(id)));

        Assert.That(starts, Is.Ordered, "high (uncapped), then critical capped to normal, then the project's default low");
    }
}
