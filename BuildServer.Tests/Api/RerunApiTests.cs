using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Api;

/// <summary>
/// <c>POST /api/v1/runs/{id}/rerun</c> and <c>/rerun-failed</c> through the real server, its built-in agent and the
/// shell executor: a step fails until the test creates a marker file, so the re-run jobs really run again, and succeed.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
[NonParallelizable]
public sealed class RerunApiTests(Db db)
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;
    private string _dir = null!;
    private const string Project = "rerun";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(db, "--Agent:Slots=2");
        _api = _server.Client();
        await _api.CreateProjectAsync(Project);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [SetUp]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("bs-rerun-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    /// <summary>A step that fails until the marker file exists.</summary>
    private string FailsUntil(string marker) => $"test -f {_dir}/{marker} || {{ echo no {marker} yet; exit 7; }}";

    private Task<HttpResponseMessage> PostAsync(string path) => _api.Http.PostAsync(path, null);

    private static string[] Attempts(JsonNode job) =>
        job["attempts"]!.AsArray().Select(a => $"{a!["number"]}:{ApiClient.Status(a)}").ToArray();

    [Test]
    public async Task RerunFailed_RunsTheFailedJobAgainAsANewAttempt_ThenItsSkippedDependent_AndTheRunSucceeds()
    {
        var id = await _api.TriggerRunAsync(Project, $"""
            jobs:
              build:
                steps:
                  - run: {FailsUntil("fixed")}
              deploy:
                needs: build
                steps:
                  - run: echo deployed
            """);
        var failed = await _api.WaitForRunAsync(id);
        Assert.That((ApiClient.Status(failed), ApiClient.Status(ApiClient.Job(failed, "deploy"))), Is.EqualTo(("failed", "skipped")));
        await File.WriteAllTextAsync(Path.Combine(_dir, "fixed"), "");

        var reopened = await ApiClient.ExpectAsync(await PostAsync($"runs/{id}/rerun-failed"), HttpStatusCode.OK);

        Assert.That(Attempts(ApiClient.Job(reopened, "build"))[0], Is.EqualTo("1:failed"));
        Assert.That(Attempts(ApiClient.Job(reopened, "build")), Has.Length.EqualTo(2), "the new attempt is in the answer");
        var finished = await _api.WaitForRunAsync(id);
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"));
        var build = await ApiClient.ExpectAsync(await _api.Http.GetAsync($"jobs/{ApiClient.Job(finished, "build")["id"]}"), HttpStatusCode.OK);
        Assert.That(Attempts(build), Is.EqualTo(new[] { "1:failed", "2:succeeded" }));
        Assert.That(build["attempts"]![0]!["exitCode"]!.GetValue<int>(), Is.EqualTo(7), "the first attempt is as it was");
        var events = build["attempts"]!.AsArray().SelectMany(a => a!["events"]!.AsArray())
            .Select(e => (e!["kind"]!.GetValue<string>(), e["reason"]?.GetValue<string>(), e["actor"]!.GetValue<string>())).ToList();
        Assert.That(events, Does.Contain(("rerun", "re-run by initial-admin as attempt 2", "user:initial-admin")));
        Assert.That(events, Does.Contain(("queued", "re-run by initial-admin", "user:initial-admin")));
        Assert.That(Attempts(ApiClient.Job(finished, "deploy")), Is.EqualTo(new[] { "1:succeeded" }));
        Assert.That(await _api.JobLogAsync(build["id"]!.GetValue<long>()), Does.Not.Contain("no fixed yet"), "the job's log is its new attempt's");
    }

    [Test]
    public async Task RerunFailed_OfAMatrix_RunsOnlyTheFailedLegAgain()
    {
        var id = await _api.TriggerRunAsync(Project, $$$"""
            jobs:
              test:
                strategy: { matrix: { part: [a, b, c] }, fail-fast: false }
                steps:
                  - run: if [ "${{ matrix.part }}" = b ]; then {{{FailsUntil("b-fixed")}}}; fi
            """);
        Assert.That(ApiClient.Status(await _api.WaitForRunAsync(id)), Is.EqualTo("failed"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "b-fixed"), "");

        await ApiClient.ExpectAsync(await PostAsync($"runs/{id}/rerun-failed"), HttpStatusCode.OK);

        var finished = await _api.WaitForRunAsync(id);
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"));
        Assert.That(finished["jobs"]!.AsArray().Select(j => (j!["name"]!.GetValue<string>(), string.Join(" ", Attempts(j)))), Is.EqualTo(new[]
        {
            ("test (a)", "1:succeeded"), ("test (b)", "1:failed 2:succeeded"), ("test (c)", "1:succeeded"),
        }));
    }

    [Test]
    public async Task RerunFailed_TwiceAtOnce_AddsOneAttempt_TheOtherCallIsAConflict()
    {
        // The first attempt fails at once; a second one waits for the test to let it fail, so the run is surely still
        // in progress when the second call comes.
        var id = await _api.TriggerRunAsync(Project, $$"""
            jobs:
              build:
                steps:
                  - run: |
                      if [ -f {{_dir}}/ran ]; then until [ -f {{_dir}}/release ]; do sleep 0.05; done; fi
                      touch {{_dir}}/ran; exit 7
            """);
        await _api.WaitForRunAsync(id);

        var responses = await Task.WhenAll(PostAsync($"runs/{id}/rerun-failed"), PostAsync($"runs/{id}/rerun-failed"));

        Assert.That(responses.Select(r => r.StatusCode), Is.EquivalentTo(new[] { HttpStatusCode.OK, HttpStatusCode.Conflict }));
        await File.WriteAllTextAsync(Path.Combine(_dir, "release"), "");
        var finished = await _api.WaitForRunAsync(id);
        Assert.That(Attempts(ApiClient.Job(finished, "build")), Is.EqualTo(new[] { "1:failed", "2:failed" }));
    }

    [Test]
    public async Task RerunFailed_IsAConflict_WhileTheRunRuns_AndWhenNoJobFailed_AndUnknownRunsAreNotFound()
    {
        var running = await _api.TriggerRunAsync(Project, $"jobs:\n  wait:\n    steps:\n      - run: until [ -f {_dir}/go ]; do sleep 0.05; done\n");
        await _api.WaitForRunAsync(running, statuses: "running");

        var whileRunning = await ApiClient.ExpectAsync(await PostAsync($"runs/{running}/rerun-failed"), HttpStatusCode.Conflict);
        var rerunWhileRunning = await ApiClient.ExpectAsync(await PostAsync($"runs/{running}/rerun"), HttpStatusCode.Conflict);
        await File.WriteAllTextAsync(Path.Combine(_dir, "go"), "");
        Assert.That(ApiClient.Status(await _api.WaitForRunAsync(running)), Is.EqualTo("succeeded"));
        var nothingFailed = await ApiClient.ExpectAsync(await PostAsync($"runs/{running}/rerun-failed"), HttpStatusCode.Conflict);

        Assert.That(whileRunning["detail"]!.GetValue<string>(), Does.Contain("has not finished"));
        Assert.That(rerunWhileRunning["detail"]!.GetValue<string>(), Does.Contain("has not finished"));
        Assert.That(nothingFailed["detail"]!.GetValue<string>(), Does.Contain("no failed, timed-out or cancelled job"));
        await ApiClient.Expect(await PostAsync("runs/999999/rerun-failed"), HttpStatusCode.NotFound);
        await ApiClient.Expect(await PostAsync("runs/999999/rerun"), HttpStatusCode.NotFound);
        using var anonymous = new HttpClient { BaseAddress = new Uri(_server.BaseAddress, "api/v1/") };
        await ApiClient.Expect(await anonymous.PostAsync($"runs/{running}/rerun", null), HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task Rerun_CreatesANewRunOfTheSameProject_WithTheStoredRefShaAndInputs_WhichRunsToItsEnd()
    {
        var original = await ApiClient.ExpectAsync(await _api.TriggerAsync(Project, null, new
        {
            pipeline = $$$"""
                on:
                  workflow_dispatch:
                    inputs:
                      target: { required: true }
                jobs:
                  deploy:
                    steps:
                      - run: echo "to ${{ inputs.target }} at ${{ github.sha }}"; {{{FailsUntil("deployable")}}}
                """,
            @ref = "refs/heads/release",
            sha = "0123456789abcdef",
            inputs = new Dictionary<string, string> { ["target"] = "staging" },
        }), HttpStatusCode.Created);
        var originalId = original["id"]!.GetValue<long>();
        Assert.That(ApiClient.Status(await _api.WaitForRunAsync(originalId)), Is.EqualTo("failed"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "deployable"), "");

        var response = await PostAsync($"runs/{originalId}/rerun");

        var created = await ApiClient.ExpectAsync(response, HttpStatusCode.Created);
        var id = created["id"]!.GetValue<long>();
        Assert.That(response.Headers.Location!.ToString(), Is.EqualTo($"/api/v1/runs/{id}"));
        Assert.That((created["number"]!.GetValue<long>(), created["ref"]!.GetValue<string>(), created["sha"]!.GetValue<string>(), created["triggeredBy"]!.GetValue<string>()),
            Is.EqualTo((original["number"]!.GetValue<long>() + 1, "refs/heads/release", "0123456789abcdef", $"rerun of #{original["number"]} by initial-admin")));
        var finished = await _api.WaitForRunAsync(id);
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"));
        var log = await _api.JobLogAsync(ApiClient.Job(finished, "deploy")["id"]!.GetValue<long>());
        Assert.That(log, Does.Contain("to staging at 0123456789abcdef"));
        Assert.That(ApiClient.Status(await _api.GetRunAsync(originalId)), Is.EqualTo("failed"), "the original is left as it was");
    }
}
