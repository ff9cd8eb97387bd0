using System.Diagnostics;
using System.Text;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Runs;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Scheduling;

/// <summary>
/// Two server nodes over one database, each with its own in-memory scheduler view and several concurrent
/// claimers, race for the same 10,000 queued attempts: every attempt is claimed exactly once, none is lost.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class ExactlyOnceClaimTests(Db db)
{
    private const int Runs = 500;
    private const int JobsPerRun = 20;
    private const int ClaimersPerNode = 3;

    [Test]
    public async Task TwoNodes_ClaimingTenThousandAttemptsConcurrently_ClaimEachExactlyOnce()
    {
        await using var nodeA = await ModuleHarness.StartAsync(db);
        await using var nodeB = await nodeA.StartNodeAsync();
        var project = await nodeA.CreateProjectAsync("p");
        var runnerA = await nodeA.CreateRunnerAsync("a");
        var runnerB = await nodeA.CreateRunnerAsync("b");
        var clock = Stopwatch.StartNew();
        var yaml = Workflow(JobsPerRun);
        for (var i = 0; i < Runs; i++)
        {
            await nodeA.TriggerAsync(project, yaml); // node A's view is fed by its own commits
        }
        await nodeB.ResyncAsync(); // node B learns them as its periodic rebuild would
        var queuedIn = clock.Elapsed;

        clock.Restart();
        var claimers = Enumerable.Range(0, ClaimersPerNode)
            .SelectMany(_ => new[] { Task.Run(() => ClaimAllAsync(nodeA, runnerA)), Task.Run(() => ClaimAllAsync(nodeB, runnerB)) })
            .ToList();
        var tallies = await Task.WhenAll(claimers);
        TestContext.Out.WriteLine($"{db}: queued {Runs * JobsPerRun} attempts in {queuedIn.TotalSeconds:0.0} s, claimed and completed them in {clock.Elapsed.TotalSeconds:0.0} s");

        var claimed = tallies.SelectMany(t => t).ToList();
        var (attempts, assigned, notFinished) = await nodeA.InScopeAsync(async sp =>
        {
            var rows = sp.GetRequiredService<BuildDb>();
            var ids = await rows.Set<JobAttempt>().Select(a => a.Id).ToListAsync();
            var events = await rows.Set<AttemptEvent>().Where(e => e.Kind == "assigned")
                .GroupBy(e => e.AttemptId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count);
            var open = await rows.Set<JobAttempt>().CountAsync(a => a.Status != Status.Succeeded);
            return (ids, events, open);
        });
        Assert.Multiple(() =>
        {
            Assert.That(attempts, Has.Count.EqualTo(Runs * JobsPerRun));
            Assert.That(claimed, Is.Unique, "no claimer was handed an attempt another one had");
            Assert.That(claimed, Is.EquivalentTo(attempts), "every attempt was claimed: none lost");
            Assert.That(assigned.Keys, Is.EquivalentTo(attempts), "every attempt has an 'assigned' event");
            Assert.That(assigned.Where(e => e.Value != 1).Select(e => e.Key), Is.Empty, "no attempt was assigned twice");
            Assert.That(notFinished, Is.Zero, "none left queued or running");
            Assert.That(tallies.Take(ClaimersPerNode * 2).Where((_, i) => i % 2 == 0).Sum(t => t.Count), Is.Positive, "node A claimed some");
            Assert.That(tallies.Where((_, i) => i % 2 == 1).Sum(t => t.Count), Is.Positive, "node B claimed some");
        });
    }

    /// <summary>One claimer: claims until its node's view has nothing left, completing each attempt it gets.</summary>
    private static async Task<List<long>> ClaimAllAsync(ModuleHarness node, RunnerRef runner)
    {
        var mine = new List<long>();
        while (await node.ClaimAsync(runner) is { } claim)
        {
            mine.Add(claim.AttemptId);
            if (!await node.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Succeeded, 0)))
            {
                Assert.Fail($"attempt {claim.AttemptId} was claimed but could not be completed");
            }
        }
        return mine;
    }

    private static string Workflow(int jobs)
    {
        var yaml = new StringBuilder("on: workflow_dispatch\njobs:\n");
        for (var j = 0; j < jobs; j++)
        {
            yaml.Append("  j").Append(j).Append(":\n    steps: [{run: 'true'}]\n");
        }
        return yaml.ToString();
    }
}
