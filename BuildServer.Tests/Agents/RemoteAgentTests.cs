using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Agents;

/// <summary>
/// Real <c>buildserver agent</c> processes against a real server on 127.0.0.1 over HTTPS (issue 6): jobs reach them by
/// label, a killed or disabled agent's attempt is lost and retried elsewhere, a server outage loses nothing and
/// duplicates nothing, SIGTERM drains, a wrong pin refuses to connect, the credentials are kept for restarts.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed partial class RemoteAgentTests(Db db)
{
    /// <summary>No built-in agent; heartbeats every second; the reconciler every second; a lease of 5 s, so a killed or
    /// disabled agent's attempt is lost soon, and a job longer than that (the drain test's) lives on heartbeats alone.</summary>
    private static readonly string[] ShortSettings =
        ["--Agent:Slots=0", "--Agents:Heartbeat=00:00:01", "--Runs:Reconcile=* * * * * *", "--Runs:Lease=00:00:05"];

    private ServerProcess _server = null!;
    private ApiClient _api = null!;
    private string _scratch = null!;
    private int _names;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync(db, ShortSettings);
        _api = _server.Client();
        await _api.CreateProjectAsync("p");
        _scratch = Directory.CreateTempSubdirectory("buildserver-remote-agents-").FullName;
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _api.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_scratch, recursive: true);
    }

    private string Unique(string what) => $"{what}-{db.ToString().ToLowerInvariant()}-{Interlocked.Increment(ref _names)}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>One job <c>j</c> on <paramref name="label"/> with one step running <paramref name="script"/> (bash).</summary>
    private static string Workflow(string label, string script) =>
        $"jobs:\n  j:\n    runs-on: [{label}]\n    steps:\n      - name: work\n        run: |\n"
        + string.Concat(script.Split('\n').Select(l => "          " + l + "\n"));

    private static JsonArray Attempts(JsonNode run) => ApiClient.Job(run, "j")["attempts"]!.AsArray();

    private static long JobId(JsonNode run) => ApiClient.Job(run, "j")["id"]!.GetValue<long>();

    private static long? RunnerId(JsonNode attempt) => attempt["runnerId"]?.GetValue<long>();

    private async Task<string> LogAsync(JsonNode run) => await _api.JobLogAsync(JobId(run));

    private async Task WaitForLogAsync(long runId, string text, TimeSpan? timeout = null) =>
        await Eventually.Until(async () => await LogAsync(await _api.GetRunAsync(runId)), log => log.Contains(text, StringComparison.Ordinal),
            timeout ?? TimeSpan.FromSeconds(60), $"run {runId}'s log to show '{text}'", TimeSpan.FromMilliseconds(200));

    private static string AgentToken(AgentProcess agent) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(agent.WorkDir, "agent.json")))!["token"]!.GetValue<string>();

    [Test]
    public async Task Run_WithLabelOnlyARemoteAgentHas_RunsThereAndItsLogAndResultArrive()
    {
        var label = Unique("remote");
        await using var agent = await AgentProcess.StartAsync(_server, Unique("solo"), label);

        // Longer than the lease (5 s) and started as soon as the agent is: it lives on the agent's heartbeats, the
        // first of which must come at once (not after the agent's default interval of 10 s).
        var runId = await _api.TriggerRunAsync("p", Workflow(label, "echo \"hello from $RUNNER_NAME\"\nfor i in 1 2 3; do echo \"line $i\"; sleep 2.5; done"));
        var run = await _api.WaitForRunAsync(runId);

        var attempts = Attempts(run);
        var log = ApiClient.Lines(await LogAsync(run));
        Assert.Multiple(() =>
        {
            Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), agent.Output);
            Assert.That(attempts, Has.Count.EqualTo(1), "not lost on the way");
            Assert.That(RunnerId(attempts[0]!), Is.EqualTo(agent.AgentId), "the remote agent ran it");
            Assert.That(attempts[0]!["steps"]!.AsArray().Select(s => ApiClient.Status(s!)), Is.All.EqualTo("succeeded"));
            Assert.That(attempts[0]!["exitCode"]?.GetValue<int>(), Is.EqualTo(0));
            Assert.That(log, Does.Contain($"hello from {agent.Name}"));
            Assert.That(log.Where(l => l.StartsWith("line ", StringComparison.Ordinal)), Is.EqualTo(new[] { "line 1", "line 2", "line 3" }));
        });
    }

    [Test]
    public async Task Kill9_OfAgentMidJob_AttemptIsLostAndRetriedOnAnotherAgent_AndTheRestartLeavesNoStepBehind()
    {
        var label = Unique("kill");
        var pidFile = Path.Combine(_scratch, Unique("step") + ".pid");
        var firstMark = Path.Combine(_scratch, Unique("first"));
        var sleep = $"sleep {600 + Random.Shared.Next(300)}.{Random.Shared.Next(10000, 99999)}";
        await using var first = await AgentProcess.StartAsync(_server, Unique("first"), label);
        var runId = await _api.TriggerRunAsync("p", Workflow(label,
            $"if [ ! -e {firstMark} ]; then touch {firstMark}; echo $$ > {pidFile}; {sleep}; fi\necho \"finished on $RUNNER_NAME\""));
        await Eventually.Until(() => File.Exists(pidFile) && Processes.WithCommandLine(sleep).Count > 0, TimeSpan.FromSeconds(60), "the first attempt's step to start");
        var stepShell = File.ReadAllText(pidFile).Trim();
        var firstId = first.AgentId;
        await using var second = await AgentProcess.StartAsync(_server, Unique("second"), label);

        await first.KillAsync();
        var run = await _api.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));

        var attempts = Attempts(run);
        var job = await ApiClient.ExpectAsync(await _api.Http.GetAsync($"jobs/{JobId(run)}"), HttpStatusCode.OK);
        var events = job["attempts"]![0]!["events"]!.AsArray();
        string[] Reasons(string kind) => [.. events.Where(e => e!["kind"]!.GetValue<string>() == kind).Select(e => e!["reason"]?.GetValue<string>() ?? "")];
        Assert.Multiple(async () =>
        {
            Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), second.Output);
            Assert.That(attempts.Select(a => ApiClient.Status(a!)), Is.EqualTo(new[] { "lost", "succeeded" }));
            Assert.That(attempts[1]!["number"]!.GetValue<int>(), Is.EqualTo(2));
            Assert.That(RunnerId(attempts[0]!), Is.EqualTo(firstId));
            Assert.That(RunnerId(attempts[1]!), Is.EqualTo(second.AgentId));
            Assert.That(attempts[0]!["failureReason"]!.GetValue<string>(), Does.Contain("lease expired"));
            Assert.That(Reasons("lost"), Has.Length.EqualTo(1).And.All.Contains($"lease expired").And.All.Contains($"runner {firstId}"), events.ToJsonString());
            Assert.That(Reasons("retried"), Is.EqualTo(new[] { "attempt 2 of 2" }), events.ToJsonString());
            Assert.That(ApiClient.Lines(await LogAsync(run)), Does.Contain($"finished on {second.Name}"));
        });

        Assert.That(Processes.HasEnded(stepShell), Is.False, "the killed agent's step outlived it (so the restart has something to clean up)");
        // The killed agent comes back on the same work folder: it kills its orphaned step and reports the attempt lost,
        // which the server refuses (superseded) and the agent discards.
        await first.StartAsync();
        await Eventually.Until(() => Processes.HasEnded(stepShell) && Processes.WithCommandLine(sleep).Count == 0, TimeSpan.FromSeconds(30),
            "the killed agent's step to be killed at its restart");
        var outbox = Path.Combine(first.WorkDir, "outbox");
        await Eventually.Until(() => !Directory.Exists(outbox) || !Directory.EnumerateDirectories(outbox).Any(), TimeSpan.FromSeconds(60),
            "the restarted agent to deliver or discard its late report");
        Assert.That(first.AgentId, Is.EqualTo(firstId), "the same agent came back");

        var after = await _api.GetRunAsync(runId);
        var afterAttempts = Attempts(after);
        Assert.Multiple(async () =>
        {
            Assert.That(ApiClient.Status(after), Is.EqualTo("succeeded"));
            Assert.That(afterAttempts.Select(a => ApiClient.Status(a!)), Is.EqualTo(new[] { "lost", "succeeded" }), "the late report changed nothing");
            Assert.That(afterAttempts[0]!["failureReason"]!.GetValue<string>(), Is.EqualTo(attempts[0]!["failureReason"]!.GetValue<string>()));
            Assert.That(await LogAsync(after), Does.Not.Contain("The agent restarted while this attempt was running"));
            Assert.That(first.Output, Does.Contain($"Attempt {attempts[0]!["id"]}: the server refused its report (409)"));
        });
    }

    [Test]
    public async Task ServerStoppedFor20Seconds_WhileAgentRunsAJob_FullLogAndResultArriveOnce()
    {
        // A lease longer than the outage plus the agent's longest backoff (15 s).
        await using var server = await ServerProcess.StartAsync(db,
            "--Agent:Slots=0", "--Agents:Heartbeat=00:00:01", "--Runs:Reconcile=* * * * * *", "--Runs:Lease=00:00:40");
        long runId;
        using (var api = server.Client())
        {
            await api.CreateProjectAsync("p");
        }
        var label = Unique("outage");
        await using var agent = await AgentProcess.StartAsync(server, Unique("steady"), label);
        using (var api = server.Client())
        {
            runId = await api.TriggerRunAsync("p", Workflow(label, "for i in $(seq 1 50); do echo \"n=$i\"; sleep 0.5; done"));
            await Eventually.Until(async () => await api.JobLogAsync(JobId(await api.GetRunAsync(runId))), log => log.Contains("n=3\n", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "the job to print", TimeSpan.FromMilliseconds(200));
        }

        await server.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(20)); // the outage itself, not a wait for an outcome
        await server.StartAsync();

        using (var api = server.Client())
        {
            var run = await api.WaitForRunAsync(runId, TimeSpan.FromSeconds(90));
            var numbers = ApiClient.Lines(await api.JobLogAsync(JobId(run)))
                .Select(l => NumberLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var attempts = Attempts(run);
            var job = await ApiClient.ExpectAsync(await api.Http.GetAsync($"jobs/{JobId(run)}"), HttpStatusCode.OK);
            var kinds = job["attempts"]![0]!["events"]!.AsArray().Select(e => e!["kind"]!.GetValue<string>()).ToList();
            Assert.Multiple(() =>
            {
                Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), agent.Output);
                Assert.That(kinds.Count(k => k == "succeeded"), Is.EqualTo(1), "completed once: " + string.Join(", ", kinds));
                Assert.That(attempts[0]!["steps"]!.AsArray().Select(s => ApiClient.Status(s!)), Is.All.EqualTo("succeeded"));
                Assert.That(attempts.Select(a => ApiClient.Status(a!)), Is.EqualTo(new[] { "succeeded" }), "one attempt, not lost");
                Assert.That(RunnerId(attempts[0]!), Is.EqualTo(agent.AgentId));
                Assert.That(numbers, Is.EqualTo(Enumerable.Range(1, 50)), "every line exactly once, in order");
            });
        }
    }

    [GeneratedRegex("^n=([0-9]+)$")]
    private static partial Regex NumberLine();

    [Test]
    public async Task DisableAgent_MidRun_ItsTokenIsRefusedAndTheAttemptIsLost()
    {
        var label = Unique("disable");
        await using var agent = await AgentProcess.StartAsync(_server, Unique("doomed"), label);
        var runId = await _api.TriggerRunAsync("p", Workflow(label, "for i in $(seq 1 600); do echo \"tick $i\"; sleep 0.5; done"));
        await WaitForLogAsync(runId, "tick 2\n");
        var token = AgentToken(agent);
        using (var self = _server.Client(token))
        {
            await ApiClient.Expect(await self.Http.GetAsync("agent/whoami"), HttpStatusCode.OK);
        }

        await ApiClient.ExpectAsync(await _api.Http.PostAsync($"agents/{agent.AgentId}/disable", null), HttpStatusCode.OK);

        using (var self = _server.Client(token))
        {
            await ApiClient.Expect(await self.Http.GetAsync("agent/whoami"), HttpStatusCode.Unauthorized);
        }
        await Eventually.Until(() => agent.Output.Contains("disabled by an administrator", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            "the agent to be refused at its next call");
        var run = await Eventually.Until(() => _api.GetRunAsync(runId), r => ApiClient.Status(Attempts(r)[0]!) != "running",
            TimeSpan.FromSeconds(60), "the disabled agent's attempt to end", TimeSpan.FromMilliseconds(200));
        var attempt = Attempts(run)[0]!;
        Assert.Multiple(() =>
        {
            Assert.That(ApiClient.Status(attempt), Is.EqualTo("lost"));
            Assert.That(attempt["failureReason"]!.GetValue<string>(), Does.Contain("lease expired"));
            Assert.That(agent.HasExited, Is.False, "a refused agent keeps running (and retries), it does not crash");
        });

        await ApiClient.Expect(await _api.Http.PostAsync($"runs/{runId}/cancel", null), HttpStatusCode.OK);
        var final = await _api.WaitForRunAsync(runId);
        Assert.That(Attempts(final)[0]!["status"]!.GetValue<string>(), Is.EqualTo("lost"), "the disabled agent never completed it");
    }

    [Test]
    public async Task Agent_WithWrongPinnedFingerprint_ExitsWith2AndRegistersNothing()
    {
        var real = await AgentProcess.ServerFingerprintAsync(_server);
        var wrong = (real[0] == 'A' ? "B" : "A") + real[1..];
        var name = Unique("suspicious");
        await using var agent = await AgentProcess.StartAsync(_server, name, Unique("pin"), fingerprint: wrong, waitUntilConnected: false);

        var exit = await agent.WaitForExitAsync();

        var lines = agent.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith("--- started", StringComparison.Ordinal)).ToList();
        var agents = (await ApiClient.ExpectAsync(await _api.Http.GetAsync("agents"), HttpStatusCode.OK)).AsArray();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(2), agent.Output);
            Assert.That(lines, Has.Count.EqualTo(1), "one readable line");
            Assert.That(lines.FirstOrDefault(), Does.StartWith("buildserver agent:").And.Contain("fingerprint").And.Contain(real));
            Assert.That(agents.Select(a => a!["name"]!.GetValue<string>()), Does.Not.Contain(name));
            Assert.That(File.Exists(Path.Combine(agent.WorkDir, "agent.json")), Is.False);
        });
    }

    [Test]
    public async Task Sigterm_OnAgentRunningAJob_FinishesItAndExits0WithoutTakingTheNext()
    {
        var label = Unique("drain");
        await using var agent = await AgentProcess.StartAsync(_server, Unique("draining"), label);
        var runningId = await _api.TriggerRunAsync("p", Workflow(label, "for i in $(seq 1 10); do echo \"drain $i\"; sleep 0.8; done"));
        await WaitForLogAsync(runningId, "drain 1\n");
        var nextId = await _api.TriggerRunAsync("p", Workflow(label, "echo next"));

        agent.Terminate();
        var exit = await agent.WaitForExitAsync(TimeSpan.FromSeconds(60));

        var running = await _api.WaitForRunAsync(runningId);
        var next = await _api.GetRunAsync(nextId);
        var log = ApiClient.Lines(await LogAsync(running));
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(0), agent.Output);
            Assert.That(agent.Output, Does.Contain("Draining"));
            Assert.That(ApiClient.Status(running), Is.EqualTo("succeeded"));
            Assert.That(log.Where(l => l.StartsWith("drain ", StringComparison.Ordinal)), Is.EqualTo(Enumerable.Range(1, 10).Select(i => $"drain {i}")));
            Assert.That(ApiClient.Status(next), Is.EqualTo("queued"), "the next job was not taken");
            Assert.That(Attempts(next).Select(a => RunnerId(a!)), Has.None.EqualTo(agent.AgentId));
        });
        await ApiClient.Expect(await _api.Http.PostAsync($"runs/{nextId}/cancel", null), HttpStatusCode.OK);
    }

    [Test]
    public async Task Restart_WithoutToken_ReusesTheCredentialsFile()
    {
        var label = Unique("creds");
        await using var agent = await AgentProcess.StartAsync(_server, Unique("kept"), label);
        var credentials = Path.Combine(agent.WorkDir, "agent.json");
        var id = agent.AgentId;
        Assert.That(File.GetUnixFileMode(credentials), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

        Assert.That(await agent.StopAsync(), Is.EqualTo(0), agent.Output);
        await agent.StartAsync(withToken: false);

        var runId = await _api.TriggerRunAsync("p", Workflow(label, "echo again"));
        var run = await _api.WaitForRunAsync(runId);
        var agents = (await ApiClient.ExpectAsync(await _api.Http.GetAsync("agents"), HttpStatusCode.OK)).AsArray();
        Assert.Multiple(() =>
        {
            Assert.That(agent.AgentId, Is.EqualTo(id));
            Assert.That(agents.Count(a => a!["name"]!.GetValue<string>() == agent.Name), Is.EqualTo(1), "registered once");
            Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), agent.Output);
            Assert.That(RunnerId(Attempts(run)[0]!), Is.EqualTo(id));
            Assert.That(File.GetUnixFileMode(credentials), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        });
    }
}
