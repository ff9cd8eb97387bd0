using BuildServer.Modules.Runs;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Runs;

/// <summary>
/// A cancel (fail-fast, or a user's) can reach an attempt an agent has claimed but not yet started watching.
/// The request is recorded on the attempt, so the agent's one check after it starts watching sees it: the
/// attempt never runs to its end unnoticed. Both orders are covered, on both databases.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class AttemptCancellationTests(Db db)
{
    private const string Matrix = """
        on: workflow_dispatch
        jobs:
          test:
            runs-on: self-hosted
            strategy:
              matrix:
                n: [1, 2, 3]
            steps:
              - run: echo ${{ matrix.n }}
        """;

    [Test]
    public async Task FailFast_BeforeTheAgentWatches_IsSeenByItsCheck()
    {
        await using var harness = await ModuleHarness.StartAsync(db);
        var project = await harness.CreateProjectAsync("p");
        var runner = await harness.CreateRunnerAsync("r", "self-hosted");
        await harness.TriggerAsync(project, Matrix);
        var first = (await harness.ClaimAsync(runner))!;
        var second = (await harness.ClaimAsync(runner))!;
        var third = (await harness.ClaimAsync(runner))!;
        var cancellation = harness.Services.GetRequiredService<IAttemptCancellation>();
        var watched = cancellation.Watch(third.AttemptId); // the third one's agent is already watching

        Assert.That(await harness.CompleteAsync(first.AttemptId, new AttemptOutcome(Status.Failed, 1, "exit 1")), Is.True);

        Assert.Multiple(async () =>
        {
            Assert.That(await harness.IsCancelRequestedAsync(second.AttemptId), Is.True, "claimed, not yet watched");
            Assert.That(await harness.IsCancelRequestedAsync(third.AttemptId), Is.True);
            Assert.That(watched.IsCancellationRequested, Is.True, "a watching agent is signalled");
            Assert.That(await harness.IsCancelRequestedAsync(first.AttemptId), Is.False, "the failed job itself was not cancelled");
        });
        cancellation.Release(third.AttemptId);
    }

    [Test]
    public async Task RunCancel_BeforeTheAgentWatches_IsSeenByItsCheck()
    {
        await using var harness = await ModuleHarness.StartAsync(db);
        var project = await harness.CreateProjectAsync("p");
        var runner = await harness.CreateRunnerAsync("r", "self-hosted");
        var run = await harness.TriggerAsync(project, Matrix);
        var claimed = (await harness.ClaimAsync(runner))!;
        Assert.That(await harness.IsCancelRequestedAsync(claimed.AttemptId), Is.False);

        var outcome = await harness.InScopeAsync(sp => sp.GetRequiredService<CancelRun>().CancelAsync(run.Id, "alice", CancellationToken.None));

        var dump = await harness.InScopeAsync(sp => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(sp.GetRequiredService<BuildServer.Modules.Persistence.BuildDb>().Set<JobAttempt>().Select(a => a.Id + ":" + a.Status + ":" + a.JobId + ":" + a.FinishedAt + ":" + a.FailureReason + ":" + a.CancelRequestedAt)));
        Assert.Multiple(async () =>
        {
            Assert.That(outcome, Is.EqualTo(CancelOutcome.Cancelling));
            Assert.That(await harness.IsCancelRequestedAsync(claimed.AttemptId), Is.True);
            Assert.That(await harness.ClaimAsync(runner), Is.Null, "the queued siblings were cancelled, not handed out");
        });
        Assert.That(await harness.CompleteAsync(claimed.AttemptId, new AttemptOutcome(Status.Cancelled, null, "cancelled before it started")), Is.True);
        var view = await harness.InScopeAsync(sp => sp.GetRequiredService<RunViews>().RunAsync(run.Id, CancellationToken.None));
        Assert.That(view!.Status, Is.EqualTo(Status.Cancelled));
        Assert.That(view.Jobs.Select(j => j.Status), Is.All.EqualTo(Status.Cancelled));
    }
}
