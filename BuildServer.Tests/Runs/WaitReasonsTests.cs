using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Waiting;
using BuildServer.Modules.Scheduling;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Runs;

/// <summary>
/// The wait reasons the API cannot produce on its own yet, in process over a real database: a matrix beyond
/// max-parallel, and (set up by writing the rows as retries and concurrency groups will) a retry waiting out its
/// backoff and a run held by its concurrency group.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class WaitReasonsTests(Db db)
{
    private const string OneJob = "jobs:\n  work:\n    steps:\n      - run: echo work\n";
    private ModuleHarness _harness = null!;

    [SetUp]
    public async Task StartAsync() => _harness = await ModuleHarness.StartAsync(db);

    [TearDown]
    public async Task StopAsync() => await _harness.DisposeAsync();

    private Task<JobWait> ExplainAsync(long jobId) =>
        _harness.InScopeAsync(async sp => (await sp.GetRequiredService<WaitReasons>().ForJobAsync(jobId, CancellationToken.None))!);

    private Task<bool> ChangeAsync(Func<BuildDb, Task> change) => _harness.InScopeAsync(async sp =>
    {
        await change(sp.GetRequiredService<BuildDb>());
        return true;
    });

    private ReadyAttempts View => _harness.Services.GetRequiredService<ReadyAttempts>();

    [Test]
    public async Task MatrixBeyondMaxParallel_WaitsForAFreeMatrixSlot()
    {
        var project = await _harness.CreateProjectAsync("matrix");
        var run = await _harness.TriggerAsync(project,
            "jobs:\n  test:\n    strategy:\n      max-parallel: 1\n      matrix:\n        part: [1, 2]\n    steps:\n      - run: echo ${{ matrix.part }}\n");
        var second = run.Jobs.Single(j => j.Status == Status.Pending);

        var wait = await ExplainAsync(second.Id);

        Assert.That(wait.Reason, Is.EqualTo(new MatrixSlotWait(1, 1)));
        Assert.That((wait.Status, wait.Message), Is.EqualTo((Status.Pending, "Waiting for a free matrix slot: 1 of max-parallel 1 in use.")));
    }

    [Test]
    public async Task RetryWaitingOutItsBackoff_SaysUntilWhen()
    {
        var project = await _harness.CreateProjectAsync("retry");
        var job = (await _harness.TriggerAsync(project, OneJob)).Jobs[0];
        var attemptId = job.Attempts[0].Id;
        var until = new DateTimeOffset(2026, 11, 24, 21, 3, 5, TimeSpan.Zero);
        await ChangeAsync(d => d.Set<JobAttempt>().Where(a => a.Id == attemptId)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, Status.Pending).SetProperty(a => a.NotBefore, until)));
        View.Remove(attemptId);

        var wait = await ExplainAsync(job.Id);

        Assert.That(wait.Reason, Is.EqualTo(new RetryBackoffWait(1, until)));
        Assert.That((wait.Status, wait.Message), Is.EqualTo((Status.Pending, "Retry backoff until 2026-11-24T21:03:05Z.")));
    }

    [Test]
    public async Task RunHeldByItsConcurrencyGroup_NamesTheOldestRunningRunOfTheGroup()
    {
        var project = await _harness.CreateProjectAsync("deploys");
        var holder = await _harness.TriggerAsync(project, OneJob);
        var held = await _harness.TriggerAsync(project, OneJob);
        await ChangeAsync(async d =>
        {
            await d.Set<Run>().Where(r => r.Id == holder.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.ConcurrencyGroup, "deploy"));
            await d.Set<JobAttempt>().Where(a => a.RunId == held.Id).ExecuteDeleteAsync();
            await d.Set<Job>().Where(j => j.RunId == held.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Status.Pending));
            await d.Set<Run>().Where(r => r.Id == held.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, Status.Pending).SetProperty(r => r.ConcurrencyGroup, "deploy"));
        });
        View.Remove(held.Jobs[0].Attempts[0].Id);

        var wait = await ExplainAsync(held.Jobs[0].Id);

        Assert.That(wait.Reason, Is.EqualTo(new ConcurrencyWait("deploy", holder.Id, holder.Number)));
        Assert.That((wait.Status, wait.Message), Is.EqualTo((Status.Pending, $"Concurrency group 'deploy' is held by run #{holder.Number}.")));
    }

    [Test]
    public async Task QueuedButNotInThisServersView_IsBeingDispatched()
    {
        var project = await _harness.CreateProjectAsync("elsewhere");
        var job = (await _harness.TriggerAsync(project, OneJob)).Jobs[0];
        View.Remove(job.Attempts[0].Id); // as if another server node queued it, before this node's next rebuild

        var wait = await ExplainAsync(job.Id);

        Assert.That((wait.Reason, wait.Status), Is.EqualTo((new DispatchingWait(), Status.Queued)));
    }

    [Test]
    public async Task NoRunnerOnline_QueuedJobSaysNoAgent_WithTheOfflineRunnersThatMatch()
    {
        var project = await _harness.CreateProjectAsync("offline");
        await _harness.CreateRunnerAsync("never-seen", "self-hosted", "linux"); // registered, never seen: offline
        var job = (await _harness.TriggerAsync(project, "jobs:\n  work:\n    runs-on: linux\n    steps:\n      - run: echo work\n")).Jobs[0];

        var wait = await ExplainAsync(job.Id);

        Assert.That(wait.Message, Is.EqualTo("No online agent has labels [linux]; 1 offline agent would match."));
    }
}

public sealed class WaitReasonSentenceTests
{
    [Test]
    public void Sentences_ReadAsTheApiDocumentsThem()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new NoAgentWait(["gpu", "linux"], 0).Describe(), Is.EqualTo("No online agent has labels [gpu, linux]; no registered agent would match."));
            Assert.That(new NoAgentWait([], 3).Describe(), Is.EqualTo("No agent is online; 3 offline agents would match."));
            Assert.That(new ConcurrencyWait("deploy", null, null).Describe(), Is.EqualTo("Waiting for concurrency group 'deploy' to be free."));
            Assert.That(new NeedsWait([new NeedState("build", Status.Succeeded)]).Describe(), Is.EqualTo("Its needs have finished; it is about to be admitted."));
            Assert.That(new OrgQuotaWait("acme", 4, 4).Describe(), Is.EqualTo("Org 'acme' is at its quota: 4 of 4 jobs running."));
            Assert.That(new LanePositionWait(Lane.Normal, 3, 17).Describe(), Is.EqualTo("Position 3 of 17 in lane normal."));
        });
    }

    [Test]
    public void Reason_SerialisesWithItsKindFirst()
    {
        var json = System.Text.Json.JsonSerializer.Serialize<WaitReason>(new RetryBackoffWait(2, new DateTimeOffset(2026, 11, 24, 21, 3, 5, TimeSpan.Zero)),
            BuildServer.Modules.Hosting.JsonDefaults.Options);

        Assert.That(json, Is.EqualTo("""{"kind":"retry_backoff","attempt":2,"until":"2026-11-24T21:03:05+00:00"}"""));
    }
}
