using System.Text;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Scheduling;

/// <summary>
/// Several server nodes on one PostgreSQL each have their own view of what runs; the organisation's quota still
/// holds across them, because the claim counts the organisation's running attempts in the database, under a lock
/// per organisation. (SQLite has one node per database, whose view is exact.)
/// </summary>
public sealed class OrgQuotaAcrossNodesTests
{
    private const int Jobs = 40;
    private const int ClaimersPerNode = 3;

    [Test]
    public async Task TwoNodes_ClaimingForAnOrgWithQuotaOne_NeverRunTwoAtOnce()
    {
        await using var nodeA = await ModuleHarness.StartAsync(Db.Postgres);
        await using var nodeB = await nodeA.StartNodeAsync();
        var project = await nodeA.CreateProjectAsync("p", "limited");
        await nodeA.InScopeAsync(sp => sp.GetRequiredService<BuildDb>().Set<Organization>()
            .Where(o => o.Id == project.OrgId).ExecuteUpdateAsync(s => s.SetProperty(o => o.MaxRunning, 1)));
        var runnerA = await nodeA.CreateRunnerAsync("a");
        var runnerB = await nodeA.CreateRunnerAsync("b");
        await nodeA.TriggerAsync(project, Workflow(Jobs));
        await nodeA.ResyncAsync();
        await nodeB.ResyncAsync(); // both views know the quota and all the queued attempts, neither what the other runs

        var claimers = Enumerable.Range(0, ClaimersPerNode)
            .SelectMany(_ => new[] { Task.Run(() => ClaimAllAsync(nodeA, runnerA)), Task.Run(() => ClaimAllAsync(nodeB, runnerB)) });
        var tallies = await Task.WhenAll(claimers);

        var claimed = tallies.SelectMany(t => t.Claimed).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(tallies.SelectMany(t => t.Violations), Is.Empty, "never more than the quota running at once");
            Assert.That(claimed, Is.Unique);
            Assert.That(claimed, Has.Count.EqualTo(Jobs), "every job ran");
        });
    }

    private sealed record Tally(List<long> Claimed, List<string> Violations);

    /// <summary>Claims until no attempt is left queued; after each claim, checks in the database that its attempt
    /// is the organisation's only running one. A node that finds nothing rebuilds its view, as its periodic resync
    /// would (it does not learn of the other node's finishes otherwise), and tries again.</summary>
    private static async Task<Tally> ClaimAllAsync(ModuleHarness node, RunnerRef runner)
    {
        var tally = new Tally([], []);
        while (true)
        {
            if (await node.ClaimAsync(runner) is not { } claim)
            {
                if (await CountAsync(node, Status.Queued) == 0)
                {
                    return tally;
                }
                await Task.Delay(10); // a resync cadence, shortened; not an assertion's wait
                await node.ResyncAsync();
                continue;
            }
            tally.Claimed.Add(claim.AttemptId);
            var running = await CountAsync(node, Status.Running);
            if (running != 1)
            {
                tally.Violations.Add($"{running} running after attempt {claim.AttemptId} was claimed by {runner.Name}");
            }
            Assert.That(await node.CompleteAsync(claim.AttemptId, new AttemptOutcome(Status.Succeeded, 0)), Is.True);
        }
    }

    private static Task<int> CountAsync(ModuleHarness node, Status status) =>
        node.InScopeAsync(sp => sp.GetRequiredService<BuildDb>().Set<JobAttempt>().CountAsync(a => a.Status == status));

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
