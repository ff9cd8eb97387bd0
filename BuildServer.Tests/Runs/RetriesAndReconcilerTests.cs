using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BuildServer.Tests.Runs;

/// <summary>
/// Retries as new attempts with backoff, leases, server-side timeouts, cancelling jobs and attempts, and the
/// reconciler's repairs, through the modules over a real database with a fake clock: the test plays the agent
/// and moves time itself, so nothing here waits on a real timer.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class RetriesAndReconcilerTests(Db db)
{
    private FakeTimeProvider _clock = null!;
    private ModuleHarness _harness = null!;

    [SetUp]
    public async Task SetUp()
    {
        _clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _harness = await ModuleHarness.StartAsync(db, new Dictionary<string, string?>
        {
            ["Runs:Lease"] = "00:02:00",
            ["Runs:TimeoutGrace"] = "00:01:00",
            ["Runs:StuckAfter"] = "00:00:30",
            ["Runs:Retry:Jitter"] = "00:00:00",
        }, s => s.AddSingleton<TimeProvider>(_clock));
    }

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    private static string Workflow(string jobExtras = "", string workflowExtras = "") => $"""
        on: workflow_dispatch
        {workflowExtras}
        jobs:
          build:
            runs-on: self-hosted
        {jobExtras}
            steps:
              - run: make
          after:
            needs: build
            runs-on: self-hosted
            steps:
              - run: echo done
        """;

    private Task<T> Query<T>(Func<BuildDb, Task<T>> query) => _harness.InScopeAsync(sp => query(sp.GetRequiredService<BuildDb>()));

    private Task<List<JobAttempt>> AttemptsAsync(long runId, string key) =>
        Query(d => d.Set<JobAttempt>().AsNoTracking().Where(a => a.RunId == runId && a.Job!.Key == key).OrderBy(a => a.Number).ToListAsync());

    private Task<Job> JobAsync(long runId, string key) => Query(d => d.Set<Job>().AsNoTracking().FirstAsync(j => j.RunId == runId && j.Key == key));

    private Task<List<AttemptEvent>> EventsAsync(long attemptId) =>
        Query(d => d.Set<AttemptEvent>().AsNoTracking().Where(e => e.AttemptId == attemptId).OrderBy(e => e.Id).ToListAsync());

    private Task<ReconcileReport> ReconcileAsync() => _harness.InScopeAsync(sp => sp.GetRequiredService<Reconciler>().RunAsync(CancellationToken.None));

    private Task<bool> AdmitAsync(long attemptId) =>
        _harness.InScopeAsync(sp => sp.GetRequiredService<AttemptLifecycle>().AdmitRetryAsync(attemptId, "test", CancellationToken.None));

    [Test]
    public async Task AFailedAttempt_IsRetriedAsANewAttempt_AfterAnExponentialBackoff_UntilTheAttemptsAreUsedUp()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var run = await _harness.TriggerAsync(project, Workflow("""
                retry:
                  max-attempts: 3
                  backoff: exponential
                  delay: 10s
            """));

        var first = (await _harness.ClaimAsync(runner))!;
        await _harness.CompleteAsync(first.AttemptId, new AttemptOutcome(Status.Failed, 2, "exit code 2"));
        var attempts = await AttemptsAsync(run.Id, "build");
        Assert.That(attempts.Select(a => (a.Number, a.Status)), Is.EqualTo(new[] { (1, Status.Failed), (2, Status.Pending) }));
        Assert.That(attempts[1].NotBefore, Is.EqualTo(_clock.GetUtcNow() + TimeSpan.FromSeconds(10)).Within(TimeSpan.FromMilliseconds(1)), "the database keeps microseconds");
        var job = await JobAsync(run.Id, "build");
        Assert.That((job.Status, job.StatusReason), Is.EqualTo((Status.Pending, "retry backoff until " + AttemptFactory.Time(attempts[1].NotBefore!.Value))));
        var retried = (await EventsAsync(first.AttemptId)).Single(e => e.Kind == "retried");
        Assert.That(retried.Reason, Does.Contain("attempt 2 of 3").And.Contain("backoff of 10s"));
        Assert.That((await EventsAsync(attempts[1].Id)).First().Reason, Is.EqualTo("retry of attempt 1 (failed: exit code 2)"));
        Assert.That(await _harness.ClaimAsync(runner), Is.Null, "nothing to run during the backoff");

        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.That(await AdmitAsync(attempts[1].Id), Is.False, "too early");
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await AdmitAsync(attempts[1].Id), Is.True);
        Assert.That(await AdmitAsync(attempts[1].Id), Is.False, "idempotent");
        var second = (await _harness.ClaimAsync(runner))!;
        Assert.That((second.AttemptId, second.Number), Is.EqualTo((attempts[1].Id, 2)));
        await _harness.CompleteAsync(second.AttemptId, new AttemptOutcome(Status.Failed, 1, "exit code 1"));

        var third = (await AttemptsAsync(run.Id, "build"))[2];
        Assert.That(third.NotBefore, Is.EqualTo(_clock.GetUtcNow() + TimeSpan.FromSeconds(20)).Within(TimeSpan.FromMilliseconds(1)), "doubled");
        _clock.Advance(TimeSpan.FromSeconds(20));
        Assert.That((await ReconcileAsync()).RetriesAdmitted, Is.EqualTo(1), "the reconciler admits a retry whose timer was lost");
        var last = (await _harness.ClaimAsync(runner))!;
        await _harness.CompleteAsync(last.AttemptId, new AttemptOutcome(Status.Failed, 1, "exit code 1"));

        attempts = await AttemptsAsync(run.Id, "build");
        Assert.That(attempts, Has.Count.EqualTo(3), "max-attempts 3: no fourth");
        Assert.That((await JobAsync(run.Id, "build")).Status, Is.EqualTo(Status.Failed));
        Assert.That((await JobAsync(run.Id, "after")).Status, Is.EqualTo(Status.Skipped));
    }

    [Test]
    public async Task WithoutARetryPolicy_AFailedJobIsNotRetried_AndACancelledOneNever()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var run = await _harness.TriggerAsync(project, Workflow());
        var first = (await _harness.ClaimAsync(runner))!;
        await _harness.CompleteAsync(first.AttemptId, new AttemptOutcome(Status.Failed, 1, "exit code 1"));
        Assert.That(await AttemptsAsync(run.Id, "build"), Has.Count.EqualTo(1));

        var retrying = await _harness.TriggerAsync(project, Workflow("""
                retry:
                  max-attempts: 5
            """));
        var claim = (await _harness.ClaimAsync(runner))!;
        await _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "cancelled"));
        Assert.That(await AttemptsAsync(retrying.Id, "build"), Has.Count.EqualTo(1));
        Assert.That((await JobAsync(retrying.Id, "build")).Status, Is.EqualTo(Status.Cancelled));
    }

    [Test]
    public async Task ALeaseThatIsRenewed_KeepsTheAttempt_AnExpiredOne_MakesItLost_AndItIsRetried()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var run = await _harness.TriggerAsync(project, Workflow());
        var claim = (await _harness.ClaimAsync(runner))!;

        _clock.Advance(TimeSpan.FromSeconds(90));
        Assert.That(await _harness.InScopeAsync(sp => sp.GetRequiredService<IAttemptLifecycle>().RenewLeasesAsync(runner.Id, CancellationToken.None)), Is.EqualTo(1));
        _clock.Advance(TimeSpan.FromSeconds(90));
        Assert.That((await ReconcileAsync()).Lost, Is.Zero, "renewed 90 s ago, valid for 2 min");

        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.That((await ReconcileAsync()).Lost, Is.EqualTo(1));
        var attempts = await AttemptsAsync(run.Id, "build");
        Assert.That(attempts.Select(a => (a.Number, a.Status)), Is.EqualTo(new[] { (1, Status.Lost), (2, Status.Queued) }), "lost: retried at once");
        var lost = (await EventsAsync(claim.AttemptId)).Single(e => e.Kind == "lost");
        Assert.That(lost.Actor, Is.EqualTo("reconciler"));
        Assert.That(lost.Reason, Is.EqualTo($"its lease expired at {AttemptFactory.Time(_clock.GetUtcNow() - TimeSpan.FromSeconds(1))}: no news from runner {runner.Id}"));
        Assert.That(await _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Succeeded)), Is.False, "the late result of a superseded attempt changes nothing");
        Assert.That((await ReconcileAsync()).Total, Is.Zero, "nothing left to repair");
    }

    [Test]
    public async Task TheTimeout_CountsFromTheAttemptsStart_NotItsQueueTime_AndTheServerEnforcesIt()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var run = await _harness.TriggerAsync(project, Workflow("    timeout-minutes: 5"));
        _clock.Advance(TimeSpan.FromMinutes(30)); // queued for longer than the timeout
        var claim = (await _harness.ClaimAsync(runner))!;
        var attempt = (await AttemptsAsync(run.Id, "build"))[0];
        Assert.That(attempt.TimeoutAt, Is.EqualTo(_clock.GetUtcNow() + TimeSpan.FromMinutes(5)).Within(TimeSpan.FromMilliseconds(1)));

        // The agent is alive (it renews its lease) but sends no result.
        var renew = () => _harness.InScopeAsync(sp => sp.GetRequiredService<IAttemptLifecycle>().RenewLeasesAsync(runner.Id, CancellationToken.None));
        for (var i = 0; i < 5; i++)
        {
            _clock.Advance(TimeSpan.FromMinutes(1));
            await renew();
        }
        _clock.Advance(TimeSpan.FromSeconds(59));
        await renew();
        Assert.That((await ReconcileAsync()).TimedOut, Is.Zero, "within the grace the agent has to report");
        var watched = _harness.Services.GetRequiredService<IAttemptCancellation>().Watch(claim.AttemptId);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.That((await ReconcileAsync()).TimedOut, Is.EqualTo(1));
        Assert.That(watched.IsCancellationRequested, Is.True, "the agent is told to stop");
        attempt = (await AttemptsAsync(run.Id, "build"))[0];
        Assert.That((attempt.Status, attempt.FailureReason), Is.EqualTo((Status.TimedOut,
            "the job timed out after 5 minutes, and its agent sent no result within 1 more minutes")));
        Assert.That((await JobAsync(run.Id, "build")).Status, Is.EqualTo(Status.TimedOut));
        _harness.Services.GetRequiredService<IAttemptCancellation>().Release(claim.AttemptId);
    }

    [Test]
    public async Task CancellingAJob_OrAnAttempt_CancelsWhatWaits_SignalsWhatRuns_AndRefusesWhatFinished()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var cancel = (Func<CancelRun, Task<CancelOutcome>> f) => _harness.InScopeAsync(sp => f(sp.GetRequiredService<CancelRun>()));

        // A retry in its backoff (pending) is cancelled at once, and stays so when its timer fires.
        var run = await _harness.TriggerAsync(project, Workflow("""
                retry:
                  max-attempts: 2
                  delay: 1m
            """));
        var first = (await _harness.ClaimAsync(runner))!;
        await _harness.CompleteAsync(first.AttemptId, new AttemptOutcome(Status.Failed, 1, "exit code 1"));
        var pending = (await AttemptsAsync(run.Id, "build"))[1];
        Assert.That(await cancel(c => c.CancelAttemptAsync(pending.Id, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.Cancelling));
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.That(await AdmitAsync(pending.Id), Is.False);
        Assert.That((await AttemptsAsync(run.Id, "build")).Select(a => a.Status), Is.EqualTo(new[] { Status.Failed, Status.Cancelled }));
        Assert.That((await JobAsync(run.Id, "build")).Status, Is.EqualTo(Status.Cancelled));
        Assert.That((await JobAsync(run.Id, "after")).Status, Is.EqualTo(Status.Skipped));
        Assert.That(await cancel(c => c.CancelAttemptAsync(pending.Id, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.AlreadyFinished));
        Assert.That(await cancel(c => c.CancelAttemptAsync(first.AttemptId, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.AlreadyFinished));

        // A running job: its attempt is asked to stop (recorded, and signalled), and cancelling again is harmless.
        var second = await _harness.TriggerAsync(project, Workflow());
        var claim = (await _harness.ClaimAsync(runner))!;
        Assert.That(await cancel(c => c.CancelJobAsync(claim.JobId, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.Cancelling));
        Assert.That(await cancel(c => c.CancelJobAsync(claim.JobId, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.Cancelling));
        Assert.That(await _harness.IsCancelRequestedAsync(claim.AttemptId), Is.True);
        await _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "the step was cancelled"));
        Assert.That((await JobAsync(second.Id, "build")).Status, Is.EqualTo(Status.Cancelled));
        Assert.That(await cancel(c => c.CancelJobAsync(claim.JobId, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.AlreadyFinished));
        Assert.That(await cancel(c => c.CancelJobAsync(999_999, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.NotFound));

        // A queued job is cancelled at once and never claimed.
        var third = await _harness.TriggerAsync(project, Workflow());
        var queued = await JobAsync(third.Id, "build");
        Assert.That(await cancel(c => c.CancelJobAsync(queued.Id, "user:t", CancellationToken.None)), Is.EqualTo(CancelOutcome.Cancelling));
        Assert.That(await _harness.ClaimAsync(runner), Is.Null);
        Assert.That((await JobAsync(third.Id, "build")).Status, Is.EqualTo(Status.Cancelled));
    }

    [Test]
    public async Task ACancelRacingACompletion_EndsConsistent()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        for (var i = 0; i < 10; i++)
        {
            var run = await _harness.TriggerAsync(project, Workflow());
            var claim = (await _harness.ClaimAsync(runner))!;
            var complete = Task.Run(() => _harness.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Succeeded)));
            var cancelled = Task.Run(() => _harness.InScopeAsync(sp => sp.GetRequiredService<CancelRun>().CancelJobAsync(claim.JobId, "user:t", CancellationToken.None)));
            await Task.WhenAll(complete, cancelled);
            var job = await JobAsync(run.Id, "build");
            Assert.That(await complete, Is.True, "the agent's result is taken either way");
            Assert.That(job.Status, Is.EqualTo(Status.Succeeded), "the job ended as its attempt did");
            Assert.That(await cancelled, Is.EqualTo(CancelOutcome.AlreadyFinished).Or.EqualTo(CancelOutcome.Cancelling));
            var after = (await _harness.ClaimAsync(runner))!; // the dependent job
            await _harness.CompleteAsync(after.AttemptId, new AttemptOutcome(Status.Succeeded));
        }
    }

    [Test]
    public async Task AConcurrencyGroup_HoldsNewerRuns_TheNewestHeldOneSupersedesOlderOnes_AndIsReleasedWhenTheGroupFrees()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        const string group = "concurrency: deploy-${{ github.ref_name }}";
        var first = await _harness.TriggerAsync(project, Workflow(workflowExtras: group));
        var second = await _harness.TriggerAsync(project, Workflow(workflowExtras: group));
        var third = await _harness.TriggerAsync(project, Workflow(workflowExtras: group));
        var other = await _harness.TriggerAsync(project, Workflow(workflowExtras: "concurrency: elsewhere"));

        var runs = await Query(d => d.Set<Run>().AsNoTracking().OrderBy(r => r.Id).ToListAsync());
        Assert.That(runs.Select(r => (r.Status, r.ConcurrencyGroup)), Is.EqualTo(new[]
        {
            (Status.Queued, "deploy-main"), (Status.Cancelled, "deploy-main"), (Status.Pending, "deploy-main"), (Status.Queued, "elsewhere"),
        }), "the second was held, then superseded by the third");
        Assert.That((await JobAsync(second.Id, "build")).StatusReason, Does.StartWith("superseded by run #3"));
        Assert.That((await JobAsync(third.Id, "build")).StatusReason, Is.EqualTo("waiting for concurrency group 'deploy-main' (held by run #1)"));

        var claimed = new List<ClaimedAttempt>();
        while (await _harness.ClaimAsync(runner) is { } c) claimed.Add(c);
        Assert.That(claimed.Select(c => c.RunId), Is.EquivalentTo(new[] { first.Id, other.Id }), "nothing of the held run is queued");

        foreach (var c in claimed) await _harness.CompleteAsync(c.AttemptId, new AttemptOutcome(Status.Succeeded));
        var dependent = (await _harness.ClaimAsync(runner))!;
        Assert.That(await _harness.ClaimAsync(runner) is { } x ? x.RunId : 0, Is.EqualTo(other.Id));
        await _harness.CompleteAsync(dependent.AttemptId, new AttemptOutcome(Status.Succeeded)); // the first run finishes...
        var released = (await _harness.ClaimAsync(runner))!;
        Assert.That(released.RunId, Is.EqualTo(third.Id), "...and releases the held one");
        Assert.That((await Query(d => d.Set<Run>().AsNoTracking().FirstAsync(r => r.Id == third.Id))).Status, Is.EqualTo(Status.Running));
    }

    [Test]
    public async Task CancelInProgress_CancelsTheRunningRun_AndTheNewOneStartsWhenItHasStopped()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        const string group = """
            concurrency:
              group: ci
              cancel-in-progress: ${{ github.event_name == 'workflow_dispatch' }}
            """;
        var first = await _harness.TriggerAsync(project, Workflow(workflowExtras: group));
        var running = (await _harness.ClaimAsync(runner))!;
        var second = await _harness.TriggerAsync(project, Workflow(workflowExtras: group));

        Assert.That(await _harness.IsCancelRequestedAsync(running.AttemptId), Is.True);
        Assert.That(await _harness.ClaimAsync(runner), Is.Null, "held until the cancelled run has stopped");
        await _harness.CompleteAsync(running.AttemptId, new AttemptOutcome(Status.Cancelled, null, "the step was cancelled"));
        var next = (await _harness.ClaimAsync(runner))!;
        Assert.That(next.RunId, Is.EqualTo(second.Id));
        Assert.That((await Query(d => d.Set<Run>().AsNoTracking().FirstAsync(r => r.Id == first.Id))).Status, Is.EqualTo(Status.Cancelled));
    }

    [Test]
    public async Task TheReconciler_MovesOnAStuckRun_AndReleasesAGroupWhoseReleaseWasMissed()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runner = await _harness.CreateRunnerAsync("r", "self-hosted");
        var run = await _harness.TriggerAsync(project, Workflow(workflowExtras: "concurrency: g"));
        var held = await _harness.TriggerAsync(project, Workflow(workflowExtras: "concurrency: g"));
        var claim = (await _harness.ClaimAsync(runner))!;
        // The build job finished, but (a crash between two writes, say) its dependent was never admitted.
        await Query(async d => await d.Set<JobAttempt>().Where(a => a.Id == claim.AttemptId).ExecuteUpdateAsync(s => s
            .SetProperty(a => a.Status, Status.Succeeded).SetProperty(a => a.FinishedAt, _clock.GetUtcNow())));
        await Query(async d => await d.Set<Job>().Where(j => j.Id == claim.JobId).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Status.Succeeded)));
        _harness.Services.GetRequiredService<BuildServer.Modules.Scheduling.ReadyAttempts>().Finished(project.OrgId, claim.AttemptId);

        Assert.That((await ReconcileAsync()).RunsRepaired, Is.Zero, "not yet: it may be a transaction in flight");
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.That((await ReconcileAsync()).RunsRepaired, Is.EqualTo(1));
        var after = (await _harness.ClaimAsync(runner))!;
        Assert.That(after.JobKey, Is.EqualTo("after"));
        var queuedEvent = (await EventsAsync(after.AttemptId)).First();
        Assert.That((queuedEvent.Kind, queuedEvent.Actor), Is.EqualTo(("queued", "reconciler")));

        // The run finishes behind the lifecycle's back: the held run's release is missed; the reconciler does it.
        await Query(async d => await d.Set<JobAttempt>().Where(a => a.Id == after.AttemptId).ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, Status.Succeeded)));
        await Query(async d => await d.Set<Job>().Where(j => j.RunId == run.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Status.Succeeded)));
        await Query(async d => await d.Set<Run>().Where(r => r.Id == run.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, Status.Succeeded)));
        Assert.That((await ReconcileAsync()).GroupsReleased, Is.EqualTo(1));
        Assert.That((await _harness.ClaimAsync(runner))!.RunId, Is.EqualTo(held.Id));
    }

    [Test]
    public async Task AJobNoRegisteredAgentCouldRun_FailsAfterTheLabelTimeout_NamingTheLabels()
    {
        var project = await _harness.CreateProjectAsync("p");
        await _harness.CreateRunnerAsync("linux", "self-hosted", "linux");
        await _harness.CreateRunnerAsync("offline-gpu", "self-hosted", "gpu"); // registered, never seen: could come back
        var gpu = await _harness.TriggerAsync(project, Workflow().Replace("build:\n    runs-on: self-hosted", "build:\n    runs-on: [self-hosted, gpu]"));
        var arm = await _harness.TriggerAsync(project, Workflow().Replace("build:\n    runs-on: self-hosted", "build:\n    runs-on: [arm64, macos]"));

        _clock.Advance(TimeSpan.FromMinutes(9));
        Assert.That((await ReconcileAsync()).NoAgent, Is.Zero, "within the label timeout");
        _clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.That((await ReconcileAsync()).NoAgent, Is.EqualTo(1));

        var job = await JobAsync(arm.Id, "build");
        Assert.That((job.Status, job.StatusReason), Is.EqualTo((Status.Failed, "no agent has labels [arm64, macos] (waited 10 minutes)")));
        Assert.That((await JobAsync(arm.Id, "after")).Status, Is.EqualTo(Status.Skipped));
        Assert.That((await Query(d => d.Set<Run>().AsNoTracking().FirstAsync(r => r.Id == arm.Id))).Status, Is.EqualTo(Status.Failed));
        Assert.That((await JobAsync(gpu.Id, "build")).Status, Is.EqualTo(Status.Queued), "an offline agent has the labels: it may come back");
    }

    [Test]
    public async Task ClaimsRacingARunCancel_NeitherFailNorLeaveAnAttemptBehind()
    {
        var project = await _harness.CreateProjectAsync("p");
        var runners = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => _harness.CreateRunnerAsync("r" + i, "self-hosted")));
        for (var round = 0; round < 5; round++)
        {
            var run = await _harness.TriggerAsync(project, """
                on: workflow_dispatch
                jobs:
                  m:
                    runs-on: self-hosted
                    strategy:
                      fail-fast: false
                      matrix:
                        n: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
                    steps:
                      - run: echo ${{ matrix.n }}
                """);
            var claims = runners.Select(r => Task.Run(async () =>
            {
                var mine = new List<ClaimedAttempt>();
                while (await _harness.ClaimAsync(r) is { } c) mine.Add(c);
                return mine;
            })).ToList();
            var cancel = Task.Run(() => _harness.InScopeAsync(sp => sp.GetRequiredService<CancelRun>().CancelAsync(run.Id, "user:t", CancellationToken.None)));
            await Task.WhenAll([.. claims, cancel]);
            Assert.That(await cancel, Is.EqualTo(CancelOutcome.Cancelling));
            foreach (var c in claims.SelectMany(t => t.Result))
            {
                Assert.That(await _harness.IsCancelRequestedAsync(c.AttemptId), Is.True, "a claimed attempt of a cancelled run is asked to stop");
                await _harness.CompleteAsync(c.AttemptId, new AttemptOutcome(Status.Cancelled, null, "cancelled"));
            }
            var attempts = await Query(d => d.Set<JobAttempt>().AsNoTracking().Where(a => a.RunId == run.Id).ToListAsync());
            Assert.That(attempts.Select(a => a.Status), Is.All.EqualTo(Status.Cancelled));
            Assert.That((await Query(d => d.Set<Run>().AsNoTracking().FirstAsync(r => r.Id == run.Id))).Status, Is.EqualTo(Status.Cancelled));
        }
    }
}
