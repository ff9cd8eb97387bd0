using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Runs;

/// <summary>
/// Re-running a run (a new run from what it stored) and re-running its failed jobs (new attempts in the same run),
/// through the modules over a real database: the test plays the agent, so it decides each outcome and when it comes.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class RerunTests(Db db)
{
    private ModuleHarness _harness = null!;
    private ProjectInfo _project = null!;
    private RunnerRef _runner = null!;

    [SetUp]
    public async Task SetUp()
    {
        _harness = await ModuleHarness.StartAsync(db);
        _project = await _harness.CreateProjectAsync("p");
        _runner = await _harness.CreateRunnerAsync("r", "self-hosted");
    }

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private const string BuildThenTest = """
        jobs:
          build:
            runs-on: self-hosted
            steps: [{ run: make }]
          test:
            needs: build
            runs-on: self-hosted
            steps: [{ run: make test }]
        """;

    private Task<T> Query<T>(Func<BuildDb, Task<T>> query) => _harness.InScopeAsync(sp => query(sp.GetRequiredService<BuildDb>()));

    private Task<Run> RunAsync(long id) => Query(d => d.Set<Run>().AsNoTracking().FirstAsync(r => r.Id == id));

    private Task<List<Job>> JobsAsync(long runId) =>
        Query(d => d.Set<Job>().AsNoTracking().Include(j => j.Attempts).Where(j => j.RunId == runId).OrderBy(j => j.Id).ToListAsync());

    private async Task<Job> JobAsync(long runId, string name) => (await JobsAsync(runId)).Single(j => j.Name == name);

    private static IEnumerable<(int, Status)> Attempts(Job job) => job.Attempts.OrderBy(a => a.Number).Select(a => (a.Number, a.Status));

    private Task<List<AttemptEvent>> EventsAsync(long attemptId) =>
        Query(d => d.Set<AttemptEvent>().AsNoTracking().Where(e => e.AttemptId == attemptId).OrderBy(e => e.Id).ToListAsync());

    private Task<RerunOutcome> RerunFailedAsync(long runId, string user = "bob") =>
        _harness.InScopeAsync(sp => sp.GetRequiredService<RerunFailedJobs>().RerunAsync(runId, user, CancellationToken.None));

    /// <summary>Claims the next attempt and finishes it so; the claimed attempt.</summary>
    private async Task<ClaimedAttempt> RunNextAsync(Status outcome)
    {
        var claim = await _harness.ClaimAsync(_runner);
        Assert.That(claim, Is.Not.Null, "an attempt to run");
        await _harness.CompleteAsync(claim!.AttemptId, new AttemptOutcome(outcome, outcome == Status.Failed ? 1 : 0));
        return claim;
    }

    [Test]
    public async Task RerunFailedJobs_AddsANewAttemptToTheFailedJob_ReopensItsSkippedDependent_AndTheRunSucceeds()
    {
        var run = await _harness.TriggerAsync(_project, BuildThenTest);
        var first = await RunNextAsync(Status.Failed);
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Failed));

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        var reopened = await RunAsync(run.Id);
        Assert.That((reopened.Status, reopened.FinishedAt), Is.EqualTo((Status.Queued, (DateTimeOffset?)null)));
        var build = await JobAsync(run.Id, "build");
        Assert.That(Attempts(build), Is.EqualTo(new[] { (1, Status.Failed), (2, Status.Queued) }), "a new attempt; the first one unchanged");
        Assert.That((build.Status, build.FinishedAt), Is.EqualTo((Status.Queued, (DateTimeOffset?)null)));
        var test = await JobAsync(run.Id, "test");
        Assert.That((test.Status, test.StatusReason, test.Attempts.Count), Is.EqualTo((Status.Pending, "waiting for needs: build", 0)));
        var rerunEvent = (await EventsAsync(first.AttemptId)).Last();
        Assert.That((rerunEvent.Kind, rerunEvent.Reason, rerunEvent.Actor), Is.EqualTo(("rerun", "re-run by bob as attempt 2", "user:bob")));
        var queued = (await EventsAsync(build.Attempts.Single(a => a.Number == 2).Id)).Single();
        Assert.That((queued.Kind, queued.Reason, queued.Actor), Is.EqualTo(("queued", "re-run by bob", "user:bob")));

        var second = await RunNextAsync(Status.Succeeded);
        Assert.That(second.Number, Is.EqualTo(2));
        Assert.That(second.Context.Github["run_attempt"]!.GetValue<string>(), Is.EqualTo("2"));
        await RunNextAsync(Status.Succeeded);
        var finished = await RunAsync(run.Id);
        Assert.That(finished.Status, Is.EqualTo(Status.Succeeded));
        Assert.That(finished.FinishedAt, Is.Not.Null);
        Assert.That(Attempts(await JobAsync(run.Id, "test")), Is.EqualTo(new[] { (1, Status.Succeeded) }));
    }

    [Test]
    public async Task RerunFailedJobs_OfAMatrix_RerunsOnlyTheFailedLegs()
    {
        var run = await _harness.TriggerAsync(_project, """
            jobs:
              build:
                runs-on: self-hosted
                strategy: { matrix: { part: [1, 2, 3] }, fail-fast: false }
                steps: [{ run: make }]
            """);
        await RunNextAsync(Status.Succeeded);
        await RunNextAsync(Status.Failed);
        await RunNextAsync(Status.Succeeded);

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        var legs = await JobsAsync(run.Id);
        Assert.That(legs.Select(j => (j.Name, j.Status, j.Attempts.Count)), Is.EqualTo(new[]
        {
            ("build (1)", Status.Succeeded, 1), ("build (2)", Status.Queued, 2), ("build (3)", Status.Succeeded, 1),
        }));
        var again = await RunNextAsync(Status.Succeeded);
        Assert.That((again.JobId, again.Number), Is.EqualTo((legs[1].Id, 2)));
        Assert.That(await _harness.ClaimAsync(_runner), Is.Null, "nothing else runs");
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Succeeded));
    }

    [Test]
    public async Task RerunFailedJobs_AfterFailFast_QueuesTheFailedLeg_AndTheCancelledLegsThatNeverRan_WithinMaxParallel()
    {
        var run = await _harness.TriggerAsync(_project, """
            jobs:
              build:
                runs-on: self-hosted
                strategy: { matrix: { part: [1, 2, 3] }, max-parallel: 1 }
                steps: [{ run: make }]
            """);
        await RunNextAsync(Status.Failed);
        Assert.That((await JobsAsync(run.Id)).Select(j => (j.Status, j.Attempts.Count)), Is.EqualTo(new[]
        {
            (Status.Failed, 1), (Status.Cancelled, 0), (Status.Cancelled, 0),
        }), "fail-fast cancelled the legs waiting for a slot");

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        Assert.That((await JobsAsync(run.Id)).Select(j => (j.Status, j.Attempts.Count)), Is.EqualTo(new[]
        {
            (Status.Queued, 2), (Status.Pending, 0), (Status.Pending, 0),
        }), "one at a time (max-parallel 1)");
        var legs = await JobsAsync(run.Id);
        foreach (var (leg, number) in new[] { (legs[0], 2), (legs[1], 1), (legs[2], 1) })
        {
            var claim = await RunNextAsync(Status.Succeeded);
            Assert.That((claim.JobId, claim.Number), Is.EqualTo((leg.Id, number)));
        }
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Succeeded));
    }

    [Test]
    public async Task RerunFailedJobs_ADependentThatRanAndFailed_WaitsForTheJobItNeedsToRunAgain()
    {
        var run = await _harness.TriggerAsync(_project, """
            jobs:
              build:
                runs-on: self-hosted
                steps: [{ run: make }]
              report:
                needs: build
                if: always()
                runs-on: self-hosted
                steps: [{ run: report }]
            """);
        await RunNextAsync(Status.Failed);
        var reportFirst = await RunNextAsync(Status.Failed);

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        var report = await JobAsync(run.Id, "report");
        Assert.That((report.Status, report.StatusReason, report.Attempts.Count), Is.EqualTo((Status.Pending, "waiting for needs: build", 1)));
        Assert.That((await EventsAsync(reportFirst.AttemptId)).Last().Reason, Is.EqualTo("re-run by bob as attempt 2 (waiting for needs: build)"));
        var build = await RunNextAsync(Status.Succeeded);
        Assert.That(build.JobKey, Is.EqualTo("build"));
        var reportAgain = await RunNextAsync(Status.Succeeded);
        Assert.That((reportAgain.JobKey, reportAgain.Number), Is.EqualTo(("report", 2)));
        Assert.That(reportAgain.Context.Needs["build"]!["result"]!.GetValue<string>(), Is.EqualTo("success"), "the needs as they are now");
        Assert.That((await EventsAsync(reportAgain.AttemptId)).First().Reason, Is.EqualTo("re-run; needs finished: build"));
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Succeeded));
    }

    [Test]
    public async Task RerunFailedJobs_CalledTwiceAtOnce_GivesTheJobOneNewAttempt()
    {
        var run = await _harness.TriggerAsync(_project, BuildThenTest);
        await RunNextAsync(Status.Failed);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => RerunFailedAsync(run.Id))));

        Assert.That(outcomes.Count(o => o == RerunOutcome.Rerun), Is.EqualTo(1));
        Assert.That(outcomes.Where(o => o != RerunOutcome.Rerun), Is.All.EqualTo(RerunOutcome.NotFinished));
        Assert.That(Attempts(await JobAsync(run.Id, "build")), Is.EqualTo(new[] { (1, Status.Failed), (2, Status.Queued) }));
    }

    [Test]
    public async Task RerunFailedJobs_IsRefused_WhileTheRunRuns_WithoutAFailedJob_AndForAnUnknownRun()
    {
        var run = await _harness.TriggerAsync(_project, BuildThenTest);
        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.NotFinished));
        await RunNextAsync(Status.Succeeded);
        await RunNextAsync(Status.Succeeded);

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.NothingFailed));
        Assert.That(await RerunFailedAsync(run.Id + 1000), Is.EqualTo(RerunOutcome.NotFound));
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Succeeded), "nothing changed");
    }

    [Test]
    public async Task RerunFailedJobs_OfACancelledRun_RunsTheCancelledJobAgain_WithoutTheOldCancelRequest()
    {
        var run = await _harness.TriggerAsync(_project, BuildThenTest);
        var claim = (await _harness.ClaimAsync(_runner))!;
        await _harness.InScopeAsync(sp => sp.GetRequiredService<CancelRun>().CancelAsync(run.Id, "alice", CancellationToken.None));
        await _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "cancelled"));
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Cancelled));
        Assert.That((await JobAsync(run.Id, "test")).Status, Is.EqualTo(Status.Cancelled), "cancelled before it ran");

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        Assert.That((await RunAsync(run.Id)).CancelRequestedAt, Is.Null);
        var again = (await _harness.ClaimAsync(_runner))!;
        Assert.That((again.JobKey, again.Number), Is.EqualTo(("build", 2)));
        Assert.That(await _harness.IsCancelRequestedAsync(again.AttemptId), Is.False);
        await _harness.CompleteAsync(again.AttemptId, new AttemptOutcome(Status.Succeeded));
        await RunNextAsync(Status.Succeeded);
        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Succeeded));
    }

    [Test]
    public async Task RerunFailedJobs_OfARunInABusyConcurrencyGroup_WaitsUntilTheGroupIsFree()
    {
        const string Grouped = "concurrency: deploy\njobs:\n  build:\n    runs-on: self-hosted\n    steps: [{ run: make }]\n";
        var run = await _harness.TriggerAsync(_project, Grouped);
        await RunNextAsync(Status.Failed);
        var holder = await _harness.TriggerAsync(_project, Grouped);
        var holding = (await _harness.ClaimAsync(_runner))!;

        Assert.That(await RerunFailedAsync(run.Id), Is.EqualTo(RerunOutcome.Rerun));

        Assert.That((await RunAsync(run.Id)).Status, Is.EqualTo(Status.Pending));
        var build = await JobAsync(run.Id, "build");
        Assert.That((build.Status, build.StatusReason), Is.EqualTo((Status.Pending, $"waiting for concurrency group 'deploy' (held by run #{holder.Number})")));
        Assert.That(await _harness.ClaimAsync(_runner), Is.Null, "held while the group's other run is in progress");
        await _harness.CompleteAsync(holding.AttemptId, new AttemptOutcome(Status.Succeeded));
        var again = (await _harness.ClaimAsync(_runner))!;
        Assert.That((again.RunId, again.Number), Is.EqualTo((run.Id, 2)));
    }

    [Test]
    public async Task RunUpdates_AreRaised_WhenAnAttemptIsClaimed_Finished_AndRerun()
    {
        var run = await _harness.TriggerAsync(_project, BuildThenTest);
        var raised = 0;
        using var watch = _harness.Services.GetRequiredService<RunUpdates>().Watch(run.Id, () => Interlocked.Increment(ref raised));

        var claim = (await _harness.ClaimAsync(_runner))!;
        Assert.That(raised, Is.EqualTo(1), "claimed");
        await _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Failed, 1));
        Assert.That(raised, Is.EqualTo(2), "finished");
        await RerunFailedAsync(run.Id);
        Assert.That(raised, Is.EqualTo(3), "re-run");
        watch.Dispose();
        await RunNextAsync(Status.Succeeded);
        Assert.That(raised, Is.EqualTo(3), "no longer watched");
        Assert.That(_harness.Services.GetRequiredService<RunUpdates>().WatchedRuns, Is.Zero);
    }

    [Test]
    public async Task RerunRun_CreatesANewRunFromTheStoredPipelineRefShaAndInputs_OnlyOnceTheRunFinished()
    {
        const string Dispatch = """
            on:
              workflow_dispatch:
                inputs:
                  target: { required: true }
            jobs:
              deploy:
                runs-on: self-hosted
                steps: [{ run: "deploy ${{ inputs.target }}" }]
            """;
        var original = (await _harness.InScopeAsync(sp => sp.GetRequiredService<IRunTrigger>().TriggerAsync(
            new TriggerRequest(_project, Dispatch, "refs/heads/release", "abc123", new Dictionary<string, string> { ["target"] = "staging" }, "carol"),
            CancellationToken.None))).Run!;
        var rerun = (Func<Task<RerunRunResult>>)(() => _harness.InScopeAsync(sp => sp.GetRequiredService<RerunRun>().RerunAsync(original.Id, "bob", CancellationToken.None)));
        Assert.That((await rerun()).Outcome, Is.EqualTo(RerunOutcome.NotFinished));
        await RunNextAsync(Status.Failed);

        var result = await rerun();

        Assert.That(result.Outcome, Is.EqualTo(RerunOutcome.Rerun));
        var created = result.Trigger!.Run!;
        Assert.That((created.Number, created.Ref, created.Sha, created.TriggeredBy), Is.EqualTo((original.Number + 1, "refs/heads/release", "abc123", $"rerun of #{original.Number} by bob")));
        var claim = (await _harness.ClaimAsync(_runner))!;
        Assert.That(claim.RunId, Is.EqualTo(created.Id));
        Assert.That(claim.Context.Inputs["target"]!.GetValue<string>(), Is.EqualTo("staging"));
        Assert.That((claim.Context.Github["actor"]!.GetValue<string>(), claim.Context.Github["triggering_actor"]!.GetValue<string>()), Is.EqualTo(("carol", "bob")));
        Assert.That(claim.Spec.Steps[0].Run!.Text, Is.EqualTo("deploy ${{ inputs.target }}"), "the stored pipeline");
        Assert.That((await RunAsync(original.Id)).Status, Is.EqualTo(Status.Failed), "the original run is left as it was");
        Assert.That((await _harness.InScopeAsync(sp => sp.GetRequiredService<RerunRun>().RerunAsync(original.Id + 1000, "bob", CancellationToken.None))).Outcome,
            Is.EqualTo(RerunOutcome.NotFound));
    }
}
