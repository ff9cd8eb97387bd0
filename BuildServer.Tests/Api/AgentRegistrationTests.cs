using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>Registration tokens, agent registration, the agent token, and the agents admin API (issue 6, first part).</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class AgentRegistrationTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _admin = null!;
    private int _names;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=1");
        _admin = _server.Client();
        await ApiClient.ExpectAsync(await _admin.Http.PostAsJsonAsync("orgs", new { name = "acme" }), HttpStatusCode.Created);
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private string NextName() => $"agent-{db.ToString().ToLowerInvariant()}-{Interlocked.Increment(ref _names)}";

    private async Task<JsonNode> CreateTokenAsync(object? body = null) =>
        await ApiClient.ExpectAsync(await _admin.Http.PostAsJsonAsync("agents/registration-tokens", body ?? new { }), HttpStatusCode.Created);

    private async Task<HttpResponseMessage> RegisterAsync(string? token, object body)
    {
        using var client = _server.Client(token);
        if (token is null) client.Http.DefaultRequestHeaders.Authorization = null;
        return await client.Http.PostAsJsonAsync("agents/register", body);
    }

    private async Task<JsonNode> RegisterOkAsync(string token, string? name = null, string[]? labels = null) =>
        await ApiClient.ExpectAsync(await RegisterAsync(token, new { name = name ?? NextName(), labels = labels ?? ["linux", "remote"], slots = 2, version = "1.0.0" }),
            HttpStatusCode.Created);

    private async Task<HttpResponseMessage> WhoAmIAsync(string token)
    {
        using var client = _server.Client(token);
        return await client.Http.GetAsync("agent/whoami");
    }

    private async Task<JsonNode> TokenRowAsync(long id) =>
        (await ApiClient.ExpectAsync(await _admin.Http.GetAsync("agents/registration-tokens"), HttpStatusCode.OK))
        .AsArray().Single(t => t!["id"]!.GetValue<long>() == id)!;

    private static async Task ExpectUnauthorizedProblemAsync(HttpResponseMessage response)
    {
        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.Unauthorized);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(problem["detail"]!.GetValue<string>(), Is.Not.Empty);
    }

    [Test]
    public async Task Register_WithGlobalOneTimeToken_ReturnsAgentTokenShownOnce()
    {
        var token = await CreateTokenAsync();
        var secret = token["token"]!.GetValue<string>();
        Assert.Multiple(() =>
        {
            Assert.That(secret, Does.StartWith("bsr_"));
            Assert.That(token["reusable"]!.GetValue<bool>(), Is.False);
            Assert.That(token["org"], Is.Null);
        });

        var name = NextName();
        var agent = await RegisterOkAsync(secret, name, ["linux", "gpu", "linux"]);

        Assert.Multiple(() =>
        {
            Assert.That(agent["agentToken"]!.GetValue<string>(), Does.StartWith("bsa_"));
            Assert.That(agent["name"]!.GetValue<string>(), Is.EqualTo(name));
            Assert.That(agent["labels"]!.AsArray().Select(l => l!.GetValue<string>()), Is.EqualTo(new[] { "linux", "gpu" }));
            Assert.That(agent["org"], Is.Null);
        });
        var listed = await TokenRowAsync(token["id"]!.GetValue<long>());
        Assert.Multiple(() =>
        {
            Assert.That(listed["token"], Is.Null, "the secret is shown only once");
            Assert.That(listed["usedCount"]!.GetValue<int>(), Is.EqualTo(1));
            Assert.That(listed["lastUsedAt"], Is.Not.Null);
        });
        var hashes = await DatabaseRows.CountAsync(_server, "runners", $"\"TokenHash\" = '{agent["agentToken"]!.GetValue<string>()}'");
        Assert.That(hashes, Is.Zero, "only a hash of the agent token is stored");
    }

    [Test]
    public async Task Register_WithOneTimeTokenTwice_SecondIsRefused()
    {
        var secret = (await CreateTokenAsync(new { reusable = false }))["token"]!.GetValue<string>();
        await RegisterOkAsync(secret);

        await ExpectUnauthorizedProblemAsync(await RegisterAsync(secret, new { name = NextName(), labels = new[] { "x" }, slots = 1, version = "1" }));
    }

    [Test]
    public async Task Register_WithReusableOrgToken_AgentsBelongToTheOrg()
    {
        var token = await CreateTokenAsync(new { org = "acme", reusable = true, expiresAt = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.That(token["org"]!.GetValue<string>(), Is.EqualTo("acme"));
        var secret = token["token"]!.GetValue<string>();

        var first = await RegisterOkAsync(secret);
        var second = await RegisterOkAsync(secret);

        Assert.That(first["org"]!.GetValue<string>(), Is.EqualTo("acme"));
        Assert.That(second["org"]!.GetValue<string>(), Is.EqualTo("acme"));
        var shown = await ApiClient.ExpectAsync(await _admin.Http.GetAsync($"agents/{second["agentId"]}"), HttpStatusCode.OK);
        Assert.Multiple(() =>
        {
            Assert.That(shown["org"]!.GetValue<string>(), Is.EqualTo("acme"));
            Assert.That(shown["kind"]!.GetValue<string>(), Is.EqualTo("remote"));
            Assert.That(shown["slots"]!.GetValue<int>(), Is.EqualTo(2));
            Assert.That(shown["version"]!.GetValue<string>(), Is.EqualTo("1.0.0"));
            Assert.That(shown["online"]!.GetValue<bool>(), Is.True, "registering counts as being seen");
        });
        Assert.That((await TokenRowAsync(token["id"]!.GetValue<long>()))["usedCount"]!.GetValue<int>(), Is.EqualTo(2));
    }

    [Test]
    public async Task Register_WithRevokedToken_IsRefused()
    {
        var token = await CreateTokenAsync(new { reusable = true });
        await ApiClient.Expect(await _admin.Http.DeleteAsync($"agents/registration-tokens/{token["id"]}"), HttpStatusCode.NoContent);

        await ExpectUnauthorizedProblemAsync(await RegisterAsync(token["token"]!.GetValue<string>(), new { labels = new[] { "x" }, slots = 1, version = "1" }));
        Assert.That((await TokenRowAsync(token["id"]!.GetValue<long>()))["revoked"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Register_WithExpiredToken_IsRefused()
    {
        var token = await CreateTokenAsync(new { reusable = true, expiresAt = DateTimeOffset.UtcNow.AddHours(1) });
        await DatabaseRows.ExpireRegistrationTokenAsync(_server, token["id"]!.GetValue<long>(), DateTimeOffset.UtcNow.AddMinutes(-1));

        await ExpectUnauthorizedProblemAsync(await RegisterAsync(token["token"]!.GetValue<string>(), new { labels = new[] { "x" }, slots = 1, version = "1" }));
    }

    [TestCase(null)]
    [TestCase("bsr_not-a-token")]
    [TestCase("garbage")]
    public async Task Register_WithoutAValidToken_IsRefused(string? token)
    {
        await ExpectUnauthorizedProblemAsync(await RegisterAsync(token, new { labels = new[] { "x" }, slots = 1, version = "1" }));
    }

    [Test]
    public async Task Register_WithAnApiToken_IsRefused()
    {
        await ExpectUnauthorizedProblemAsync(await RegisterAsync(_server.Token, new { labels = new[] { "x" }, slots = 1, version = "1" }));
    }

    [Test]
    public async Task Register_DuplicateName_Returns409AndDoesNotSpendTheToken()
    {
        var name = NextName();
        await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>(), name);
        var token = await CreateTokenAsync();

        await ApiClient.ExpectAsync(await RegisterAsync(token["token"]!.GetValue<string>(), new { name, labels = new[] { "x" }, slots = 1, version = "1" }),
            HttpStatusCode.Conflict);

        Assert.That((await TokenRowAsync(token["id"]!.GetValue<long>()))["usedCount"]!.GetValue<int>(), Is.Zero);
        await RegisterOkAsync(token["token"]!.GetValue<string>());
    }

    private static IEnumerable<TestCaseData> BadRegistrations()
    {
        yield return new TestCaseData("{", "body").SetName("{m}(malformed JSON)");
        yield return new TestCaseData("{\"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(no labels)");
        yield return new TestCaseData("{\"labels\": [\"\"], \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(empty label)");
        yield return new TestCaseData("{\"labels\": [null], \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(null label)");
        yield return new TestCaseData("{\"labels\": [\"a b\"], \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(label with a space)");
        yield return new TestCaseData("{\"labels\": [\"" + new string('a', 65) + "\"], \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(label too long)");
        yield return new TestCaseData("{\"labels\": [" + string.Join(",", Enumerable.Range(1, 33).Select(i => $"\"l{i}\"")) + "], \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(33 labels)");
        yield return new TestCaseData("{\"labels\": \"linux\", \"slots\": 1, \"version\": \"1\"}", "labels").SetName("{m}(labels not a list)");
        yield return new TestCaseData("{\"labels\": [], \"version\": \"1\"}", "slots").SetName("{m}(no slots)");
        yield return new TestCaseData("{\"labels\": [], \"slots\": 0, \"version\": \"1\"}", "slots").SetName("{m}(zero slots)");
        yield return new TestCaseData("{\"labels\": [], \"slots\": 257, \"version\": \"1\"}", "slots").SetName("{m}(257 slots)");
        yield return new TestCaseData("{\"labels\": [], \"slots\": \"two\", \"version\": \"1\"}", "slots").SetName("{m}(slots not a number)");
        yield return new TestCaseData("{\"labels\": [], \"slots\": 1}", "version").SetName("{m}(no version)");
        yield return new TestCaseData("{\"name\": \"bad name!\", \"labels\": [], \"slots\": 1, \"version\": \"1\"}", "name").SetName("{m}(bad name)");
    }

    [TestCaseSource(nameof(BadRegistrations))]
    public async Task Register_BadInput_Returns400NamingTheFieldAndKeepsTheToken(string body, string field)
    {
        var token = await CreateTokenAsync();
        using var client = _server.Client(token["token"]!.GetValue<string>());

        var response = await client.Http.PostAsync("agents/register", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
        Assert.That((await TokenRowAsync(token["id"]!.GetValue<long>()))["usedCount"]!.GetValue<int>(), Is.Zero, "a bad request does not spend the token");
    }

    [TestCase("{\"org\": \"ghost\"}", "org")]
    [TestCase("{\"expiresAt\": \"2000-01-01T00:00:00Z\"}", "expiresAt")]
    [TestCase("{\"expiresAt\": \"tomorrow\"}", "expiresAt")]
    [TestCase("{\"reusable\": \"yes\"}", "reusable")]
    [TestCase("{", "body")]
    public async Task CreateToken_BadInput_Returns400NamingTheField(string body, string field)
    {
        var response = await _admin.Http.PostAsync("agents/registration-tokens", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        Assert.That(problem["errors"]![field], Is.Not.Null, problem.ToJsonString());
    }

    [Test]
    public async Task WhoAmI_WithAgentToken_DescribesTheAgent()
    {
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());

        var me = await ApiClient.ExpectAsync(await WhoAmIAsync(agent["agentToken"]!.GetValue<string>()), HttpStatusCode.OK);

        Assert.Multiple(() =>
        {
            Assert.That(me["agentId"]!.GetValue<long>(), Is.EqualTo(agent["agentId"]!.GetValue<long>()));
            Assert.That(me["name"]!.GetValue<string>(), Is.EqualTo(agent["name"]!.GetValue<string>()));
            Assert.That(me["disabled"]!.GetValue<bool>(), Is.False);
            Assert.That(me["draining"]!.GetValue<bool>(), Is.False);
        });
    }

    [Test]
    public async Task WhoAmI_WithApiOrForgedToken_IsRefused()
    {
        await ExpectUnauthorizedProblemAsync(await WhoAmIAsync(_server.Token));
        await ExpectUnauthorizedProblemAsync(await WhoAmIAsync("bsa_forged"));
    }

    [TestCase("agents")]
    [TestCase("orgs")]
    [TestCase("agents/registration-tokens")]
    [TestCase("tokens")]
    public async Task ApiEndpoints_WithAgentToken_AreRefused(string path)
    {
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());
        using var client = _server.Client(agent["agentToken"]!.GetValue<string>());

        await ExpectUnauthorizedProblemAsync(await client.Http.GetAsync(path));
    }

    [Test]
    public async Task Disable_RefusesTheAgentTokenAtOnce_EnableRestoresIt()
    {
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());
        var token = agent["agentToken"]!.GetValue<string>();
        await ApiClient.Expect(await WhoAmIAsync(token), HttpStatusCode.OK);

        var disabled = await ApiClient.ExpectAsync(await _admin.Http.PostAsync($"agents/{agent["agentId"]}/disable", null), HttpStatusCode.OK);
        Assert.That(disabled["disabled"]!.GetValue<bool>(), Is.True);
        await ExpectUnauthorizedProblemAsync(await WhoAmIAsync(token));

        await ApiClient.Expect(await _admin.Http.PostAsync($"agents/{agent["agentId"]}/enable", null), HttpStatusCode.OK);
        var me = await ApiClient.ExpectAsync(await WhoAmIAsync(token), HttpStatusCode.OK);
        Assert.That(me["disabled"]!.GetValue<bool>(), Is.False);
    }

    [Test]
    public async Task Drain_IsShownToTheAgent()
    {
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());

        await ApiClient.Expect(await _admin.Http.PostAsync($"agents/{agent["agentId"]}/drain", null), HttpStatusCode.OK);

        var me = await ApiClient.ExpectAsync(await WhoAmIAsync(agent["agentToken"]!.GetValue<string>()), HttpStatusCode.OK);
        Assert.That(me["draining"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Delete_RemovesTheAgentAndRefusesItsToken()
    {
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());

        await ApiClient.Expect(await _admin.Http.DeleteAsync($"agents/{agent["agentId"]}"), HttpStatusCode.NoContent);

        await ExpectUnauthorizedProblemAsync(await WhoAmIAsync(agent["agentToken"]!.GetValue<string>()));
        await ApiClient.Expect(await _admin.Http.GetAsync($"agents/{agent["agentId"]}"), HttpStatusCode.NotFound);
        await ApiClient.Expect(await _admin.Http.DeleteAsync($"agents/{agent["agentId"]}"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task List_ShowsTheBuiltInAgentAndRemoteOnes_BuiltInCannotBeDeletedOrDisabled()
    {
        var remote = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>());

        var agents = (await ApiClient.ExpectAsync(await _admin.Http.GetAsync("agents"), HttpStatusCode.OK)).AsArray();

        var builtIn = agents.Single(a => a!["kind"]!.GetValue<string>() == "builtin")!;
        Assert.That(builtIn["online"]!.GetValue<bool>(), Is.True);
        Assert.That(agents.Any(a => a!["id"]!.GetValue<long>() == remote["agentId"]!.GetValue<long>()), Is.True);
        await ApiClient.Expect(await _admin.Http.DeleteAsync($"agents/{builtIn["id"]}"), HttpStatusCode.Conflict);
        await ApiClient.Expect(await _admin.Http.PostAsync($"agents/{builtIn["id"]}/disable", null), HttpStatusCode.Conflict);
    }

    [Test]
    public async Task Disable_TheOnlyAgentWithTheLabels_JobWaitsForAnAgent()
    {
        var label = "tpu-" + NextName();
        var agent = await RegisterOkAsync((await CreateTokenAsync())["token"]!.GetValue<string>(), labels: [label]);
        var project = NextName();
        await _admin.CreateProjectAsync(project);
        var runId = await _admin.TriggerRunAsync(project, $"jobs:\n  train:\n    runs-on: [{label}]\n    steps:\n      - run: echo train\n");
        var jobId = ApiClient.Job(await _admin.GetRunAsync(runId), "train")["id"]!.GetValue<long>();

        await ApiClient.Expect(await _admin.Http.PostAsync($"agents/{agent["agentId"]}/disable", null), HttpStatusCode.OK);

        var waiting = await ApiClient.ExpectAsync(await _admin.Http.GetAsync($"jobs/{jobId}/wait-reason"), HttpStatusCode.OK);
        Assert.That(waiting["reason"]!.ToJsonString(), Is.EqualTo($$"""{"kind":"no_agent","labels":["{{label}}"],"offlineMatching":1}"""));
        await ApiClient.Expect(await _admin.Http.PostAsync($"runs/{runId}/cancel", null), HttpStatusCode.OK);
    }

    [Test]
    public async Task AdminEndpoints_UnknownAgent_Return404()
    {
        await ApiClient.Expect(await _admin.Http.GetAsync("agents/999999"), HttpStatusCode.NotFound);
        await ApiClient.Expect(await _admin.Http.PostAsync("agents/999999/disable", null), HttpStatusCode.NotFound);
        await ApiClient.Expect(await _admin.Http.DeleteAsync("agents/registration-tokens/999999"), HttpStatusCode.NotFound);
    }
}
