using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>Runs through the real server and its built-in agent, on each database.</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class RunLifecycleTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync(db);
        _api = _server.Client();
        await _api.CreateProjectAsync("app");
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task Trigger_DiamondDag_RunsEveryJobAfterItsNeedsAndKeepsOutputInOrder()
    {
        const string pipeline = """
            name: diamond
            env: { WHO: pipeline }
            jobs:
              a:
                steps:
                  - name: first
                    run: |
                      echo "a1 $WHO"
                      echo a2 >&2
                      echo a3
              b:
                needs: a
                env: { WHO: job-b }
                steps: [{ run: 'echo "b $WHO"' }]
              c:
                needs: [a]
                steps:
                  - run: echo c1
                  - run: echo "c2 $STEP_VAR"
                    env: { STEP_VAR: from-step }
              d:
                needs: [b, c]
                steps: [{ run: echo d }]
            """;
        var runId = await _api.TriggerRunAsync("app", pipeline);

        var run = await _api.WaitForRunAsync(runId);

        Assert.That(ApiClient.Status(run), Is.EqualTo("succeeded"), run.ToJsonString());
        var jobs = new[] { "a", "b", "c", "d" }.ToDictionary(k => k, k => ApiClient.Job(run, k));
        Assert.That(jobs.Values.Select(ApiClient.Status), Is.All.EqualTo("succeeded"));
        DateTimeOffset Time(string job, string field) => jobs[job]["attempts"]![0]![field]!.GetValue<DateTimeOffset>();
        Assert.Multiple(() =>
        {
            Assert.That(Time("b", "startedAt"), Is.GreaterThanOrEqualTo(Time("a", "finishedAt")));
            Assert.That(Time("c", "startedAt"), Is.GreaterThanOrEqualTo(Time("a", "finishedAt")));
            Assert.That(Time("d", "startedAt"), Is.GreaterThanOrEqualTo(Time("b", "finishedAt")));
            Assert.That(Time("d", "startedAt"), Is.GreaterThanOrEqualTo(Time("c", "finishedAt")));
        });
        Assert.That(ApiClient.Lines(await _api.JobLogAsync(jobs["a"]["id"]!.GetValue<long>())), Is.EqualTo(new[] { "a1 pipeline", "a2", "a3" }));
        Assert.That(ApiClient.Lines(await _api.JobLogAsync(jobs["b"]["id"]!.GetValue<long>())), Is.EqualTo(new[] { "b job-b" }));
        var cSteps = jobs["c"]["attempts"]![0]!["steps"]!.AsArray();
        Assert.That(ApiClient.Lines(await _api.StepLogAsync(cSteps[0]!["id"]!.GetValue<long>())), Is.EqualTo(new[] { "c1" }));
        Assert.That(ApiClient.Lines(await _api.StepLogAsync(cSteps[1]!["id"]!.GetValue<long>())), Is.EqualTo(new[] { "c2 from-step" }));
    }

    [Test]
    public async Task Trigger_FailingStep_FailsJobSkipsLaterStepsAndDependents()
    {
        const string pipeline = """
            jobs:
              build:
                steps:
                  - run: echo compiling
                  - run: exit 7
                  - run: echo never
              test:
                needs: build
                steps: [{ run: echo testing }]
              deploy:
                needs: test
                steps: [{ run: echo deploying }]
              lint:
                steps: [{ run: echo linting }]
            """;
        var runId = await _api.TriggerRunAsync("app", pipeline);

        var run = await _api.WaitForRunAsync(runId);

        Assert.That(ApiClient.Status(run), Is.EqualTo("failed"));
        var build = ApiClient.Job(run, "build");
        var attempt = build["attempts"]![0]!;
        Assert.Multiple(() =>
        {
            Assert.That(ApiClient.Status(build), Is.EqualTo("failed"));
            Assert.That(attempt["exitCode"]!.GetValue<int>(), Is.EqualTo(7));
            Assert.That(attempt["failureReason"]!.GetValue<string>(), Does.Contain("exited with code 7"));
            Assert.That(attempt["steps"]!.AsArray().Select(s => ApiClient.Status(s!)), Is.EqualTo(new[] { "succeeded", "failed", "skipped" }));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "test")), Is.EqualTo("skipped"));
            Assert.That(ApiClient.Job(run, "test")["statusReason"]!.GetValue<string>(), Does.Contain("build"));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "deploy")), Is.EqualTo("skipped"));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "lint")), Is.EqualTo("succeeded"));
            Assert.That(ApiClient.Job(run, "test")["attempts"]!.AsArray(), Is.Empty);
        });
        var fromAttempts = await ApiClient.ExpectAsync(await _api.Http.GetAsync($"attempts/{attempt["id"]}"), System.Net.HttpStatusCode.OK);
        Assert.That(fromAttempts["events"]!.AsArray().Select(e => e!["kind"]!.GetValue<string>()), Is.EqualTo(new[] { "queued", "assigned", "started", "failed" }));
        var log = ApiClient.Lines(await _api.JobLogAsync(build["id"]!.GetValue<long>()));
        Assert.That(log, Does.Contain("compiling").And.Not.Contain("never"));
    }

    [Test]
    public async Task Trigger_ManyAtOnceForOneProject_EachGetsItsOwnNumber()
    {
        await _api.CreateProjectAsync("concurrent");
        const string pipeline = "jobs:\n  t:\n    steps: [{run: 'true'}]\n";

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var numbers = new List<long>();
            for (var i = 0; i < 10; i++)
            {
                var run = await ApiClient.ExpectAsync(await _api.TriggerAsync("concurrent", pipeline), System.Net.HttpStatusCode.Created);
                numbers.Add(run["number"]!.GetValue<long>());
            }
            return numbers;
        }));

        Assert.That(responses.SelectMany(n => n).Order(), Is.EqualTo(Enumerable.Range(1, 80).Select(i => (long)i)));
    }

    [Test]
    public async Task ListRuns_ByStatus_FiltersWithTheWireWords()
    {
        var failed = await _api.TriggerRunAsync("app", "jobs:\n  f:\n    steps: [{run: 'exit 1'}]\n");
        await _api.WaitForRunAsync(failed);

        var list = await ApiClient.ExpectAsync(await _api.Http.GetAsync("runs?status=failed&limit=500"), System.Net.HttpStatusCode.OK);
        var none = await ApiClient.ExpectAsync(await _api.Http.GetAsync("projects/app/runs?status=timed_out"), System.Net.HttpStatusCode.OK);
        var bad = await ApiClient.ExpectAsync(await _api.Http.GetAsync("runs?status=Failed"), System.Net.HttpStatusCode.BadRequest);

        Assert.That(list.AsArray().Select(r => r!["id"]!.GetValue<long>()), Does.Contain(failed));
        Assert.That(list.AsArray().Select(r => ApiClient.Status(r!)), Is.All.EqualTo("failed"));
        Assert.That(none.AsArray(), Is.Empty);
        Assert.That(bad["errors"]!["status"], Is.Not.Null);
    }

    [Test]
    public async Task Cancel_LongRunningStep_KillsItsProcessGroupWithinTwoSeconds()
    {
        var pidFile = Path.Combine(_server.DataDir, $"pids-{Guid.NewGuid():N}");
        var pipeline = $$"""
            jobs:
              long:
                steps:
                  - run: |
                      sleep 600 &
                      echo $! >> {{pidFile}}
                      echo $$ >> {{pidFile}}
                      wait
              after:
                needs: long
                steps: [{ run: echo never }]
            """;
        var runId = await _api.TriggerRunAsync("app", pipeline);
        var pids = await Eventually.Until(() => Task.FromResult(File.Exists(pidFile) ? File.ReadAllLines(pidFile) : []),
            lines => lines.Length == 2, TimeSpan.FromSeconds(30), "the step to start");
        Assert.That(pids.Any(Processes.HasEnded), Is.False, "the step's processes run before the cancel");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var response = await _api.Http.PostAsync($"runs/{runId}/cancel", null);
        await Eventually.Until(() => pids.All(Processes.HasEnded), TimeSpan.FromSeconds(2), "the step's processes to end");
        var stoppedAfter = clock.Elapsed;

        Assert.That(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.That(stoppedAfter, Is.LessThan(TimeSpan.FromSeconds(2)));
        var run = await _api.WaitForRunAsync(runId);
        Assert.Multiple(() =>
        {
            Assert.That(ApiClient.Status(run), Is.EqualTo("cancelled"));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "long")), Is.EqualTo("cancelled"));
            Assert.That(ApiClient.Status(ApiClient.Job(run, "after")), Is.EqualTo("cancelled"));
        });
        var again = await _api.Http.PostAsync($"runs/{runId}/cancel", null);
        Assert.That((int)again.StatusCode, Is.EqualTo(409), "a finished run cannot be cancelled again");
    }

    [Test]
    public async Task Cancel_QueuedRunBehindBusySlots_CancelsAtOnceWithoutRunningIt()
    {
        var marker = Path.Combine(_server.DataDir, $"ran-{Guid.NewGuid():N}");
        var blockers = new List<long>();
        for (var i = 0; i < 4; i++) // the built-in agent has 4 slots
        {
            blockers.Add(await _api.TriggerRunAsync("app", "jobs:\n  block:\n    steps: [{run: sleep 600}]\n"));
        }
        await Eventually.Until(async () => (await Task.WhenAll(blockers.Select(_api.GetRunAsync))).Count(r => ApiClient.Status(r) == "running"),
            n => n == 4, TimeSpan.FromSeconds(30), "all slots to be busy");
        var queued = await _api.TriggerRunAsync("app", $"jobs:\n  j:\n    steps: [{{run: touch {marker}}}]\n");

        var cancelled = await ApiClient.ExpectAsync(await _api.Http.PostAsync($"runs/{queued}/cancel", null), System.Net.HttpStatusCode.OK);

        Assert.That(ApiClient.Status(cancelled), Is.EqualTo("cancelled"), "nothing was running, so the run is cancelled at once");
        foreach (var id in blockers)
        {
            await _api.Http.PostAsync($"runs/{id}/cancel", null);
        }
        foreach (var id in blockers)
        {
            await _api.WaitForRunAsync(id);
        }
        Assert.That(File.Exists(marker), Is.False, "the cancelled job never ran");
    }
}
