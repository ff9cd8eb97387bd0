using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>Bad input gets a clear 4xx problem naming the field, and stores nothing.</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class BadInputTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=1");
        _api = _server.Client();
        await _api.CreateProjectAsync("bad");
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private static IEnumerable<TestCaseData> BadPipelines()
    {
        // An unclosed bracket is noticed, and reported, where the input ends.
        yield return new TestCaseData("jobs:\n  a:\n    steps: [{run: echo}\n", 4, null, "Invalid YAML").SetName("{m}(not YAML)");
        yield return new TestCaseData("jobs:\n  a:\n    steps: [{run: echo}]\n   bad: indentation\n", 4, null, "Invalid YAML").SetName("{m}(bad indentation)");
        yield return new TestCaseData("jobs:\n  a:\n    needs: [ghost]\n    steps: [{run: echo}]\n", 3, "a", "'ghost'").SetName("{m}(unknown needs)");
        yield return new TestCaseData("jobs:\n  a:\n    needs: c\n    steps: [{run: x}]\n  b:\n    needs: a\n    steps: [{run: x}]\n  c:\n    needs: b\n    steps: [{run: x}]\n", 2, "a", "cycle: a -> c -> b -> a").SetName("{m}(cycle)");
        yield return new TestCaseData("jobs: {}\n", 1, null, "empty").SetName("{m}(empty jobs)");
        yield return new TestCaseData("name: x\n", 1, null, "no 'jobs'").SetName("{m}(no jobs)");
        yield return new TestCaseData("jobs:\n  a:\n    stepz: []\n", 3, "a", "Unknown key 'stepz'").SetName("{m}(unknown key)");
        yield return new TestCaseData("jobs:\n  a:\n    steps:\n      - uses: dtolnay/rust-toolchain@stable\n", 4, "a", "unsupported action 'dtolnay/rust-toolchain@stable'").SetName("{m}(third-party action)");
        yield return new TestCaseData("jobs:\n  a:\n    steps:\n      - run: echo ${{ matrix.os == }}\n", 4, "a", "expression").SetName("{m}(bad expression)");
        yield return new TestCaseData("jobs:\n  a:\n    strategy:\n      matrix:\n        x: [" + string.Join(",", Enumerable.Range(1, 17)) + "]\n        y: [" + string.Join(",", Enumerable.Range(1, 16)) + "]\n    steps: [{run: x}]\n", 4, "a", "272").SetName("{m}(matrix over 256)");
        yield return new TestCaseData("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\njobs: {}\n", 0, null, "alias").SetName("{m}(billion laughs)");
        yield return new TestCaseData("- just\n- a list\n", 1, null, "mapping").SetName("{m}(not a mapping)");
        yield return new TestCaseData(new string('[', 5000), 1, null, "nests deeper").SetName("{m}(deep nesting)");
    }

    [TestCaseSource(nameof(BadPipelines))]
    public async Task Trigger_InvalidPipeline_Returns400WithLineAndStoresNothing(string pipeline, int line, string? job, string message)
    {
        var before = await CountsAsync();

        var response = await _api.TriggerAsync("bad", pipeline);

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var errors = problem["pipelineErrors"]!.AsArray();
        var error = errors.FirstOrDefault(e => e!["message"]!.GetValue<string>().Contains(message, StringComparison.OrdinalIgnoreCase)) ?? errors[0]!;
        Assert.Multiple(() =>
        {
            Assert.That(problem["errors"]!["pipeline"]!.AsArray(), Is.Not.Empty);
            if (line > 0) Assert.That(error["line"]!.GetValue<int>(), Is.EqualTo(line), problem.ToJsonString());
            Assert.That(error["column"]!.GetValue<int>(), Is.GreaterThanOrEqualTo(1));
            Assert.That(error["message"]!.GetValue<string>(), Does.Contain(message).IgnoreCase, problem.ToJsonString());
            Assert.That(error["job"]?.GetValue<string>(), Is.EqualTo(job));
        });
        Assert.That(await CountsAsync(), Is.EqualTo(before), "no run, job, attempt or step row was created");
    }

    private const string WithInputs =
        "on:\n  workflow_dispatch:\n    inputs:\n      level:\n        type: choice\n        options: [low, high]\n        required: true\n" +
        "      dry:\n        type: boolean\n        default: false\njobs:\n  a:\n    steps: [{run: echo}]\n";

    [TestCase("{\"level\": \"low\", \"ghost\": \"x\"}", "inputs.ghost", "Unexpected input 'ghost'")]
    [TestCase("{\"level\": \"medium\"}", "inputs.level", "must be one of 'low', 'high'")]
    [TestCase("{\"level\": \"low\", \"dry\": \"maybe\"}", "inputs.dry", "true or false")]
    [TestCase("{}", "inputs.level", "required")]
    public async Task Trigger_BadInputs_Returns400NamingTheInputAndStoresNothing(string inputs, string field, string message)
    {
        var before = await CountsAsync();

        var response = await _api.TriggerAsync("bad", null, new { pipeline = WithInputs, inputs = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(inputs) });

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        Assert.That(problem["errors"]![field]![0]!.GetValue<string>(), Does.Contain(message), problem.ToJsonString());
        Assert.That(await CountsAsync(), Is.EqualTo(before), "no run, job, attempt or step row was created");
    }

    [Test]
    public async Task Trigger_SeveralErrors_ReportsEveryOne()
    {
        var response = await _api.TriggerAsync("bad", "jobs:\n  a:\n    needs: [x]\n    steps: [{run: echo}]\n  b:\n    needs: [y]\n    steps: [{run: echo}]\n");

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);

        Assert.That(problem["pipelineErrors"]!.AsArray().Select(e => e!["line"]!.GetValue<int>()), Is.EqualTo(new[] { 3, 6 }));
    }

    [Test]
    public async Task Trigger_MalformedJson_Returns400NamingTheField()
    {
        var response = await _api.Http.PostAsync("projects/bad/runs", new StringContent("{\"pipeline\": 42}", Encoding.UTF8, "application/json"));

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]!["pipeline"], Is.Not.Null, problem.ToJsonString());
    }

    [Test]
    public async Task Trigger_NotJsonAtAll_Returns400()
    {
        var response = await _api.Http.PostAsync("projects/bad/runs", new StringContent("{oops", Encoding.UTF8, "application/json"));

        await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
    }

    [Test]
    public async Task Trigger_NoPipelineAndNoPath_Returns400NamingPipeline()
    {
        var problem = await ApiClient.ExpectAsync(await _api.TriggerAsync("bad", null), HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]!["pipeline"]![0]!.GetValue<string>(), Does.Contain("pipelinePath"));
    }

    [Test]
    public async Task Trigger_PipelinePathOfProject_ReadsTheFile()
    {
        var file = Path.Combine(_server.DataDir, "from-file.yml");
        await File.WriteAllTextAsync(file, "jobs:\n  f:\n    steps: [{run: echo from-file}]\n");
        await _api.CreateProjectAsync("with-file", file);

        var run = await _api.WaitForRunAsync(await _api.TriggerRunAsync("with-file", ""));

        Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"));
        Assert.That(ApiClient.Lines(await _api.JobLogAsync(ApiClient.Job(run, "f")["id"]!.GetValue<long>())), Is.EqualTo(new[] { "from-file" }));
    }

    [TestCase("runs/999999", TestName = "Get_UnknownRun_Returns404")]
    [TestCase("jobs/999999", TestName = "Get_UnknownJob_Returns404")]
    [TestCase("attempts/999999", TestName = "Get_UnknownAttempt_Returns404")]
    [TestCase("steps/999999/log", TestName = "Get_UnknownStepLog_Returns404")]
    [TestCase("jobs/999999/log", TestName = "Get_UnknownJobLog_Returns404")]
    [TestCase("projects/nope", TestName = "Get_UnknownProject_Returns404")]
    [TestCase("projects/nope/runs", TestName = "Get_RunsOfUnknownProject_Returns404")]
    public async Task Get_Unknown_Returns404Problem(string path)
    {
        var response = await _api.Http.GetAsync(path);

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.NotFound);
        Assert.That(problem["detail"]!.GetValue<string>(), Does.Contain("does not exist"));
    }

    [Test]
    public async Task Trigger_UnknownProject_Returns404()
    {
        await ApiClient.ExpectAsync(await _api.TriggerAsync("nope", "jobs:\n  a:\n    steps: [{run: x}]\n"), HttpStatusCode.NotFound);
    }

    [TestCase(null, TestName = "Call_WithoutToken_Returns401")]
    [TestCase("bs_wrong", TestName = "Call_WithWrongToken_Returns401")]
    [TestCase("", TestName = "Call_WithEmptyBearer_Returns401")]
    public async Task Call_WithoutValidToken_Returns401(string? token)
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.BaseAddress, "api/v1/") };
        if (token is not null)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        foreach (var (method, path) in new[] { ("GET", "projects"), ("POST", "projects"), ("GET", "runs/1"), ("POST", "projects/bad/runs"), ("GET", "tokens") })
        {
            var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? JsonContent.Create(new { }) : null });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), $"{method} {path}");
        }
    }

    [Test]
    public async Task RevokedToken_IsRefused()
    {
        var created = await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("tokens", new { name = "ci" }), HttpStatusCode.Created);
        using var other = _server.Client(created["token"]!.GetValue<string>());
        await ApiClient.Expect(await other.Http.GetAsync("projects"), HttpStatusCode.OK);
        var tokens = await ApiClient.ExpectAsync(await _api.Http.GetAsync("tokens"), HttpStatusCode.OK);
        Assert.That(tokens.AsArray().Select(t => t!["token"]), Is.All.Null, "secrets are never listed");

        await ApiClient.Expect(await _api.Http.DeleteAsync($"tokens/{created["id"]}"), HttpStatusCode.NoContent);

        await ApiClient.Expect(await other.Http.GetAsync("projects"), HttpStatusCode.Unauthorized);
    }

    [TestCase("{\"name\": \"\"}", "name")]
    [TestCase("{\"name\": \"has space\"}", "name")]
    [TestCase("{\"name\": \"123\"}", "name")]
    [TestCase("{\"name\": \"ok\", \"org\": \"bad org\"}", "org")]
    [TestCase("{\"name\": \"ok2\", \"repositoryUrl\": \"not a url\"}", "repositoryUrl")]
    [TestCase("{\"name\": [1]}", "name")]
    public async Task CreateProject_Invalid_Returns400NamingTheField(string body, string field)
    {
        var response = await _api.Http.PostAsync("projects", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
    }

    [Test]
    public async Task CreateProject_Duplicate_Returns409()
    {
        await _api.CreateProjectAsync("twice");

        await ApiClient.ExpectAsync(await _api.Http.PostAsJsonAsync("projects", new { name = "twice" }), HttpStatusCode.Conflict);
    }

    [TestCase("jobs/1/log?offset=-1", "offset")]
    [TestCase("jobs/1/log?limit=0", "limit")]
    [TestCase("jobs/1/log?tail=-5", "tail")]
    [TestCase("jobs/1/log?limit=abc", "limit")]
    public async Task ReadLog_BadQuery_Returns400(string path, string field)
    {
        await _api.WaitForRunAsync(await _api.TriggerRunAsync("bad", "jobs:\n  a:\n    steps: [{run: echo x}]\n"));

        var problem = await ApiClient.ExpectAsync(await _api.Http.GetAsync(path), HttpStatusCode.BadRequest);

        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
    }

    private async Task<long[]> CountsAsync() =>
        await Task.WhenAll(new[] { "runs", "jobs", "job_attempts", "steps" }.Select(t => DatabaseRows.CountAsync(_server, t)));
}
