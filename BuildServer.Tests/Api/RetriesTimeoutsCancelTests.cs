using System.Net;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// Retries, timeouts, cancelling jobs and attempts, concurrency groups and the Hangfire dashboard, through the
/// real server with its built-in agent, Hangfire and the real shell executor. Steps that must wait do so on a
/// file the test creates, so no step timing decides an outcome.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
[NonParallelizable]
public sealed class RetriesTimeoutsCancelTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;
    private string _dir = null!;
    private string _project = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // The reconciler (every 15 s by default) would also admit a retry whose backoff is over; here it runs once a
        // year, so what admits a retry is Hangfire's scheduled job (asserted below), and nothing else races it.
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=2", "--Runs:Reconcile=0 0 0 1 1 *");
        _api = _server.Client();
        _project = "retries-" + db.ToString().ToLowerInvariant();
        await _api.CreateProjectAsync(_project);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [SetUp]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("bs-retry-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private string WaitFor(string file) => $"while [ ! -f {_dir}/{file} ]; do sleep 0.05; done";

    private Task OpenAsync(string file) => File.WriteAllTextAsync(Path.Combine(_dir, file), "");

    private async Task<JsonNode> JobAsync(long jobId) => await ApiClient.ExpectAsync(await _api.Http.GetAsync($"jobs/{jobId}"), HttpStatusCode.OK);

    [Test]
    public async Task AFailingJob_IsRetriedAfterItsBackoff_ByHangfire_AsASecondAttempt()
    {
        var run = await _api.TriggerRunAsync(_project, $$"""
            jobs:
              flaky:
                retry: { max-attempts: 3, backoff: fixed, delay: 1s }
                steps:
                  - name: flaky step
                    run: |
                      if [ ! -f {{_dir}}/failed-once ]; then touch {{_dir}}/failed-once; echo first; exit 3; fi
                      echo second
            """);
        var finished = await _api.WaitForRunAsync(run);
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"));
        var job = await JobAsync(ApiClient.Job(finished, "flaky")["id"]!.GetValue<long>());
        var attempts = job["attempts"]!.AsArray();
        Assert.That(attempts.Select(a => (a!["number"]!.GetValue<int>(), ApiClient.Status(a!))), Is.EqualTo(new[] { (1, "failed"), (2, "succeeded") }));
        Assert.That(attempts[0]!["exitCode"]!.GetValue<int>(), Is.EqualTo(3));
        var retried = attempts[0]!["events"]!.AsArray().Single(e => e!["kind"]!.GetValue<string>() == "retried")!;
        Assert.That(retried["reason"]!.GetValue<string>(), Does.StartWith("attempt 2 of 3 after a backoff of 1s"));
        var second = attempts[1]!["events"]!.AsArray().Select(e => (e!["kind"]!.GetValue<string>(), e["actor"]!.GetValue<string>(), e["reason"]?.GetValue<string>())).ToList();
        Assert.That(second[0], Is.EqualTo(("pending", "server", "retry of attempt 1 (failed: step 'flaky step' exited with code 3)")));
        Assert.That(second[1], Is.EqualTo(("queued", "server", "retry backoff over")), "admitted by Hangfire's scheduled job, not the reconciler");
        var notBefore = attempts[1]!["notBefore"]!.GetValue<DateTimeOffset>();
        Assert.That(attempts[1]!["startedAt"]!.GetValue<DateTimeOffset>(), Is.GreaterThanOrEqualTo(notBefore), "not before the backoff was over");
        var log = await _api.JobLogAsync(job["id"]!.GetValue<long>());
        Assert.That(log, Does.Contain("second").And.Not.Contain("first"), "the job's log is its latest attempt's");
    }

    [Test]
    public async Task TheTimeout_CountsFromTheAttemptsStart_NotFromWhenItWasQueued()
    {
        // Both slots are held, so the job waits queued longer than its timeout; once it runs, it finishes well within it.
        var holders = new[]
        {
            await _api.TriggerRunAsync(_project, $"jobs:\n  hold:\n    steps:\n      - run: {WaitFor("open-a")}\n"),
            await _api.TriggerRunAsync(_project, $"jobs:\n  hold:\n    steps:\n      - run: {WaitFor("open-b")}\n"),
        };
        foreach (var h in holders) await _api.WaitForRunAsync(h, statuses: "running");
        var run = await _api.TriggerRunAsync(_project, "jobs:\n  quick:\n    timeout-minutes: 0.05\n    steps:\n      - run: sleep 1\n");
        await Task.Delay(TimeSpan.FromSeconds(4)); // setup: longer in the queue than its 3 s timeout
        await OpenAsync("open-a");
        await OpenAsync("open-b");

        var finished = await _api.WaitForRunAsync(run);
        var attempt = ApiClient.Job(finished, "quick")["attempts"]![0]!;
        var queued = attempt["startedAt"]!.GetValue<DateTimeOffset>() - attempt["queuedAt"]!.GetValue<DateTimeOffset>();
        Assert.That(queued, Is.GreaterThan(TimeSpan.FromSeconds(3)), "it waited longer than its timeout");
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"), "queue time does not count");
        foreach (var h in holders) await _api.WaitForRunAsync(h);
    }

    [Test]
    public async Task AJobPastItsTimeout_IsStopped_RunsItsAlwaysSteps_AndEndsTimedOut()
    {
        var run = await _api.TriggerRunAsync(_project, $$"""
            jobs:
              slow:
                timeout-minutes: 0.05
                steps:
                  - run: {{WaitFor("never")}}
                  - if: always()
                    run: echo cleanup ran
              after:
                needs: slow
                steps:
                  - run: echo never
            """);
        var finished = await _api.WaitForRunAsync(run);
        var slow = ApiClient.Job(finished, "slow");
        Assert.That((ApiClient.Status(finished), ApiClient.Status(slow), ApiClient.Status(ApiClient.Job(finished, "after"))),
            Is.EqualTo(("failed", "timed_out", "skipped")));
        Assert.That(ApiClient.Status(slow["attempts"]![0]!), Is.EqualTo("timed_out"));
        Assert.That(slow["attempts"]![0]!["timeoutAt"]!.GetValue<DateTimeOffset>(),
            Is.EqualTo(slow["attempts"]![0]!["startedAt"]!.GetValue<DateTimeOffset>() + TimeSpan.FromSeconds(3)).Within(TimeSpan.FromMilliseconds(1)));
        Assert.That(await _api.JobLogAsync(slow["id"]!.GetValue<long>()), Does.Contain("cleanup ran"));
    }

    [Test]
    public async Task CancellingARunningJob_StopsIt_RunsItsAlwaysSteps_SkipsItsDependents_AndASecondCancelIsAConflict()
    {
        var run = await _api.TriggerRunAsync(_project, $$"""
            jobs:
              long:
                steps:
                  - run: {{WaitFor("never")}}
                  - if: always()
                    run: echo cleanup ran
              after:
                needs: long
                steps:
                  - run: echo never
            """);
        var running = await _api.WaitForRunAsync(run, statuses: "running");
        var job = ApiClient.Job(running, "long");
        var jobId = job["id"]!.GetValue<long>();
        await Eventually.Until(() => JobAsync(jobId), j => ApiClient.Status(j) == "running" && j["steps"] is null, TimeSpan.FromSeconds(30), "the job to run");

        var cancelled = await ApiClient.ExpectAsync(await _api.Http.PostAsync($"jobs/{jobId}/cancel", null), HttpStatusCode.OK);
        Assert.That(cancelled["id"]!.GetValue<long>(), Is.EqualTo(jobId));
        var finished = await _api.WaitForRunAsync(run);
        Assert.That((ApiClient.Status(finished), ApiClient.Status(ApiClient.Job(finished, "long")), ApiClient.Status(ApiClient.Job(finished, "after"))),
            Is.EqualTo(("cancelled", "cancelled", "skipped")));
        Assert.That(await _api.JobLogAsync(jobId), Does.Contain("cleanup ran"));

        var again = await _api.Http.PostAsync($"jobs/{jobId}/cancel", null);
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await ApiClient.ExpectAsync(again, HttpStatusCode.Conflict))["detail"]!.GetValue<string>(), Does.Contain("has already finished"));
        var attemptId = ApiClient.Job(finished, "long")["attempts"]![0]!["id"]!.GetValue<long>();
        Assert.That((await _api.Http.PostAsync($"attempts/{attemptId}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await _api.Http.PostAsync("attempts/987654321/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await _api.Http.PostAsync("jobs/987654321/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await _api.Http.PostAsync($"runs/{run}/cancel", null)).StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "a finished run: 409, nothing changes");
    }

    [Test]
    public async Task AConcurrencyGroup_RunsOneRunAtATime_TheNextWaitsPendingWithItsReason()
    {
        var group = "deploy-" + Guid.NewGuid().ToString("N")[..6];
        var first = await _api.TriggerRunAsync(_project, $"concurrency: {group}\njobs:\n  deploy:\n    steps:\n      - run: {WaitFor("first-done")}\n");
        await _api.WaitForRunAsync(first, statuses: "running");
        var second = await _api.TriggerRunAsync(_project, $"concurrency: {group}\njobs:\n  deploy:\n    steps:\n      - run: echo deployed\n");

        var waiting = await _api.GetRunAsync(second);
        Assert.That(ApiClient.Status(waiting), Is.EqualTo("pending"));
        var firstNumber = (await _api.GetRunAsync(first))["number"]!.GetValue<long>();
        Assert.That(ApiClient.Job(waiting, "deploy")["statusReason"]!.GetValue<string>(),
            Is.EqualTo($"waiting for concurrency group '{group}' (held by run #{firstNumber})"));

        await OpenAsync("first-done");
        var done = await _api.WaitForRunAsync(second);
        Assert.That(ApiClient.Status(done), Is.EqualTo("succeeded"));
        var firstDone = await _api.GetRunAsync(first);
        Assert.That(done["startedAt"]!.GetValue<DateTimeOffset>(), Is.GreaterThanOrEqualTo(firstDone["finishedAt"]!.GetValue<DateTimeOffset>()),
            "the second started only after the first had finished");
    }

    [Test]
    public async Task TheHangfireDashboard_IsForAdministratorsOnly()
    {
        using var anonymous = new HttpClient { BaseAddress = _server.BaseAddress };
        Assert.That((await anonymous.GetAsync("/hangfire")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var forged = new HttpClient { BaseAddress = _server.BaseAddress };
        forged.DefaultRequestHeaders.Authorization = new("Bearer", "bs_notatoken0000000000000000");
        Assert.That((await forged.GetAsync("/hangfire")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var page = await _api.Http.GetAsync(new Uri(_server.BaseAddress, "hangfire/recurring"));
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await page.Content.ReadAsStringAsync(), Does.Contain("reconciler"), "the reconciler is a recurring job");
    }

    [TestCase("0")]
    [TestCase("1000")]
    [TestCase("-1")]
    [TestCase("two")]
    public async Task ARetryWithoutAValidNumberOfAttempts_IsRefusedWithItsPlace_AndNothingIsCreated(string attempts)
    {
        var before = (await ApiClient.ExpectAsync(await _api.Http.GetAsync($"projects/{_project}/runs?limit=500"), HttpStatusCode.OK)).AsArray().Count;
        var response = await _api.TriggerAsync(_project, $"jobs:\n  a:\n    retry: {{ max-attempts: {attempts} }}\n    steps: [{{run: echo}}]\n");
        var problem = await ApiClient.ExpectAsync(response, HttpStatusCode.BadRequest);
        Assert.That(problem["errors"]!["pipeline"]![0]!.GetValue<string>(),
            Is.EqualTo($"3:28: 'max-attempts' of 'retry' of job 'a' must be a whole number from 1 to 10, not '{attempts}'."));
        var after = (await ApiClient.ExpectAsync(await _api.Http.GetAsync($"projects/{_project}/runs?limit=500"), HttpStatusCode.OK)).AsArray().Count;
        Assert.That(after, Is.EqualTo(before), "no run was created");
    }
}
