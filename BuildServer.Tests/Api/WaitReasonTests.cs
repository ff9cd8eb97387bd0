using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// "Why is this job waiting" and the queue listing against the real server with one built-in agent slot. A "gate"
/// job holds the slot (it waits for a file the test creates), so what waits, and why, is fixed while the test asks.
/// Every test leaves nothing waiting behind it, so that lane positions start from an empty queue.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
[NonParallelizable]
public sealed class WaitReasonTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;
    private string _gateDir = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // The built-in agent's heartbeat (Agent:Heartbeat, 10 s) keeps it online (Agents:OfflineAfter, 30 s) however long this fixture's server lives.
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

    private string Name(string what) => $"{what}-{db}".ToLowerInvariant();

    private string WaitFor(string file) => $"while [ ! -f {_gateDir}/{file} ]; do sleep 0.05; done";

    private Task OpenAsync(string file = "open") => File.WriteAllTextAsync(Path.Combine(_gateDir, file), "");

    private async Task<long> HoldTheSlotAsync(string project)
    {
        var gate = await _api.TriggerRunAsync(project, $"jobs:\n  gate:\n    steps:\n      - run: {WaitFor("open")}\n");
        await _api.WaitForRunAsync(gate, statuses: "running");
        return gate;
    }

    private static string OneJob(string priority) => $"priority: {priority}\njobs:\n  work:\n    steps:\n      - run: echo {priority}\n";

    private async Task<long> JobIdAsync(long run, string key) => ApiClient.Job(await _api.GetRunAsync(run), key)["id"]!.GetValue<long>();

    private async Task<JsonNode> WaitReasonAsync(long job) => await ApiClient.ExpectAsync(await _api.Http.GetAsync($"jobs/{job}/wait-reason"), HttpStatusCode.OK);

    private async Task<JsonArray> QueueAsync(string query = "") => (await ApiClient.ExpectAsync(await _api.Http.GetAsync("queue" + query), HttpStatusCode.OK)).AsArray();

    private static string Kind(JsonNode wait) => wait["reason"]!["kind"]!.GetValue<string>();

    private static string Message(JsonNode wait) => wait["message"]!.GetValue<string>();

    private async Task FinishAllAsync(params long[] runs)
    {
        foreach (var run in runs) await _api.WaitForRunAsync(run);
    }

    [Test]
    public async Task WaitReason_JobWithNeeds_NamesEachNeedWithItsStatus()
    {
        var project = Name("needs");
        await _api.CreateProjectAsync(project);
        var gate = await HoldTheSlotAsync(project);
        var run = await _api.TriggerRunAsync(project,
            $"jobs:\n  build:\n    steps:\n      - run: {WaitFor("build")}\n  lint:\n    steps:\n      - run: echo lint\n" +
            "  deploy:\n    needs: [build, lint]\n    steps:\n      - run: echo deploy\n");
        var deploy = await JobIdAsync(run, "deploy");

        var waiting = await WaitReasonAsync(deploy);

        Assert.That(Kind(waiting), Is.EqualTo("needs"));
        Assert.That(ApiClient.Status(waiting), Is.EqualTo("pending"));
        Assert.That(waiting["reason"]!["needs"]!.ToJsonString(), Is.EqualTo("""[{"key":"build","status":"queued"},{"key":"lint","status":"queued"}]"""));
        Assert.That(Message(waiting), Is.EqualTo("Waiting for needs: build (queued), lint (queued)."));

        await OpenAsync(); // the slot goes to build, which then waits for its own file: lint stays queued
        await Eventually.Until(() => WaitReasonAsync(deploy), w => Message(w) == "Waiting for needs: build (running), lint (queued).",
            TimeSpan.FromSeconds(30), "deploy to wait for a running build and a queued lint");
        await OpenAsync("build");
        await FinishAllAsync(gate, run);
        Assert.That(ApiClient.Status(await WaitReasonAsync(deploy)), Is.EqualTo("succeeded"));
        Assert.That(Message(await WaitReasonAsync(deploy)), Is.EqualTo("Not waiting: the job has finished (succeeded)."));
    }

    [Test]
    public async Task WaitReason_QueuedJobs_GivePositionInTheirLane()
    {
        var project = Name("positions");
        await _api.CreateProjectAsync(project);
        var gate = await HoldTheSlotAsync(project);
        var low = await _api.TriggerRunAsync(project, OneJob("low"));
        var first = await _api.TriggerRunAsync(project, OneJob("normal"));
        var second = await _api.TriggerRunAsync(project, OneJob("normal"));
        var critical = await _api.TriggerRunAsync(project, OneJob("critical"));

        var messages = new List<string>();
        foreach (var run in new[] { low, first, second, critical }) messages.Add(Message(await WaitReasonAsync(await JobIdAsync(run, "work"))));
        var reason = (await WaitReasonAsync(await JobIdAsync(second, "work")))["reason"]!;

        Assert.That(messages, Is.EqualTo(new[]
        {
            "Position 1 of 1 in lane low.", "Position 1 of 2 in lane normal.", "Position 2 of 2 in lane normal.", "Position 1 of 1 in lane critical.",
        }));
        Assert.That(reason.ToJsonString(), Is.EqualTo("""{"kind":"lane_position","lane":"normal","position":2,"inLane":2}"""));
        var gateWait = await WaitReasonAsync(await JobIdAsync(gate, "gate"));
        Assert.That((Kind(gateWait), ApiClient.Status(gateWait)), Is.EqualTo(("not_waiting", "running")), "a running job answers too");

        await OpenAsync();
        await FinishAllAsync(gate, low, first, second, critical);
    }

    [Test]
    public async Task OrgAtQuota_QueuedJobIsShownPending_WithNOfM_ThoughItsRowStaysQueued()
    {
        var org = Name("quota");
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("orgs", new { name = org, maxRunning = 1 }), HttpStatusCode.Created);
        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = org + "-app", org }), HttpStatusCode.Created);
        var gate = await HoldTheSlotAsync(org + "-app"); // its one running job is the org's whole quota
        var created = await ApiClient.ExpectAsync(await _api.TriggerAsync(org + "-app", OneJob("normal")), HttpStatusCode.Created);
        var runId = created["id"]!.GetValue<long>();

        var job = ApiClient.Job(await _api.GetRunAsync(runId), "work");
        var jobId = job["id"]!.GetValue<long>();
        var waiting = await WaitReasonAsync(jobId);
        var listed = await QueueAsync($"?org={org}");

        var sentence = $"Org '{org}' is at its quota: 1 of 1 jobs running.";
        Assert.That(ApiClient.Status(ApiClient.Job(created, "work")), Is.EqualTo("pending"), "as the trigger answers");
        Assert.That((ApiClient.Status(job), job["statusReason"]!.GetValue<string>()), Is.EqualTo(("pending", sentence)), "in the run view");
        Assert.That(ApiClient.Status(job["attempts"]![0]!), Is.EqualTo("pending"));
        var jobView = await ApiClient.ExpectAsync(await _api.Http.GetAsync($"jobs/{jobId}"), HttpStatusCode.OK);
        Assert.That(ApiClient.Status(jobView), Is.EqualTo("pending"), "in the job view");
        Assert.That(waiting["reason"]!.ToJsonString(), Is.EqualTo($$"""{"kind":"org_quota","org":"{{org}}","running":1,"maxRunning":1}"""));
        Assert.That((ApiClient.Status(waiting), Message(waiting)), Is.EqualTo(("pending", sentence)));
        Assert.That(listed.Select(w => (w!["jobId"]!.GetValue<long>(), ApiClient.Status(w), Kind(w))), Is.EqualTo(new[] { (jobId, "pending", "org_quota") }));
        var attemptId = job["attempts"]![0]!["id"]!.GetValue<long>();
        Assert.That(await DatabaseRows.CountAsync(_server, "job_attempts", $"\"Id\" = {attemptId} AND \"Status\" = 'queued'"), Is.EqualTo(1),
            "the quota wait is the scheduler's view, not a write to the row");

        await OpenAsync();
        await FinishAllAsync(gate, runId);
    }

    [Test]
    public async Task NoOnlineAgentWithTheLabels_SaysSo_AndCountsTheOfflineOnesThatWouldMatch()
    {
        var project = Name("labels");
        await _api.CreateProjectAsync(project);
        var longAgo = DateTimeOffset.UtcNow.AddDays(-1);
        await DatabaseRows.AddRunnerAsync(_server, "gpu-box-1", ["gpu", "linux"], longAgo);
        await DatabaseRows.AddRunnerAsync(_server, "gpu-box-2", ["x64", "linux", "gpu"], lastSeenAt: null);
        await DatabaseRows.AddRunnerAsync(_server, "gpu-windows", ["gpu", "windows"], longAgo);
        var run = await _api.TriggerRunAsync(project, "jobs:\n  train:\n    runs-on: [gpu, linux]\n    steps:\n      - run: echo train\n");
        var job = await JobIdAsync(run, "train");

        var waiting = await WaitReasonAsync(job);

        Assert.That(waiting["reason"]!.ToJsonString(), Is.EqualTo("""{"kind":"no_agent","labels":["gpu","linux"],"offlineMatching":2}"""));
        Assert.That((ApiClient.Status(waiting), Message(waiting)), Is.EqualTo(("queued", "No online agent has labels [gpu, linux]; 2 offline agents would match.")));

        await ApiClient.ExpectAsync(await _api.Http.PostAsync($"runs/{run}/cancel", null), HttpStatusCode.OK);
        Assert.That(Kind(await WaitReasonAsync(job)), Is.EqualTo("not_waiting"));
    }

    [Test]
    public async Task Queue_ListsWaitingJobsInLaneOrder_WithReasons_AndFilters()
    {
        var first = Name("queue-a");
        var second = Name("queue-b");
        await _api.CreateProjectAsync(first);
        await _api.CreateProjectAsync(second);
        var gate = await HoldTheSlotAsync(first);
        var pipeline = await _api.TriggerRunAsync(first, "jobs:\n  a:\n    steps:\n      - run: echo a\n  b:\n    needs: [a]\n    steps:\n      - run: echo b\n");
        var urgent = await _api.TriggerRunAsync(second, OneJob("critical"));

        var all = await QueueAsync();
        var ofFirst = await QueueAsync($"?project={first}");
        var critical = await QueueAsync("?lane=critical");
        var one = await QueueAsync("?limit=1");

        static string[] Describe(JsonArray items) => items.Select(w => $"{w!["project"]}/{w["key"]} {ApiClient.Status(w)} {Kind(w)}").ToArray();
        var expectedA = $"{first}/a queued lane_position";
        var expectedB = $"{first}/b pending needs";
        var expectedUrgent = $"{second}/work queued lane_position";
        Assert.That(Describe(all), Is.EqualTo(new[] { expectedUrgent, expectedA, expectedB }), "critical first; queued before pending; the running gate is not listed");
        Assert.That(Describe(ofFirst), Is.EqualTo(new[] { expectedA, expectedB }));
        Assert.That(Describe(critical), Is.EqualTo(new[] { expectedUrgent }));
        Assert.That(Describe(one), Is.EqualTo(new[] { expectedUrgent }));
        Assert.That(all[2]!["message"]!.GetValue<string>(), Is.EqualTo("Waiting for needs: a (queued)."));
        Assert.That(all[0]!["runId"]!.GetValue<long>(), Is.EqualTo(urgent));

        await OpenAsync();
        await FinishAllAsync(gate, pipeline, urgent);
        Assert.That(await QueueAsync($"?project={first}"), Is.Empty, "nothing waits once all ran");
    }

    [TestCase("lane=urgent", "lane")]
    [TestCase("limit=0", "limit")]
    [TestCase("limit=501", "limit")]
    [TestCase("limit=ten", "limit")]
    [TestCase("org=no-such-org", "org")]
    [TestCase("project=no-such-project", "project")]
    public async Task Queue_BadFilter_Is400NamingTheField(string query, string field)
    {
        var problem = await ApiClient.ExpectAsync(await _api.Http.GetAsync("queue?" + query), HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
    }

    [Test]
    public async Task WaitReason_UnknownJob_Is404()
    {
        var problem = await ApiClient.ExpectAsync(await _api.Http.GetAsync("jobs/987654321/wait-reason"), HttpStatusCode.NotFound);

        Assert.That(problem["detail"]!.GetValue<string>(), Does.Contain("987654321"));
    }
}
