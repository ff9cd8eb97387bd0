using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Scheduling;
using BuildServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Scheduling;

/// <summary>
/// Issue 5's fairness figure as a test, through the real claim path over a real database: three organisations
/// with weights 1:2:3 keep six slots saturated, and each one's share of slot-time must be within ±5 % of its
/// weight's share. Time is counted in turns, not measured: each turn, the slots whose job has run its length
/// report it finished (<see cref="IAttemptLifecycle.CompleteAttemptAsync"/>), then every free slot claims
/// (<see cref="IAttemptLifecycle.TryClaimAsync"/>) and each occupied slot adds one slot-turn to its organisation.
/// </summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class FairShareTests(Db db)
{
    private const int Slots = 6;
    private const int Turns = 120; // "two minutes" at one turn per second
    private const int JobsPerRun = 12;

    private static string Workflow(int jobs) => $$"""
        on: workflow_dispatch
        jobs:
          build:
            runs-on: self-hosted
            strategy:
              matrix:
                n: [{{string.Join(", ", Enumerable.Range(1, jobs))}}]
            steps:
              - run: "true"
        """;

    [Test]
    public async Task ClaimPath_WeightsOneTwoThreeSaturatingSixSlots_SlotTimeWithinFivePercentOfWeightShare()
    {
        await using var harness = await ModuleHarness.StartAsync(db);
        var weights = new Dictionary<string, double> { ["org-one"] = 1, ["org-two"] = 2, ["org-three"] = 3 };
        var projects = new Dictionary<string, ProjectInfo>();
        foreach (var (org, weight) in weights)
        {
            projects[org] = await harness.CreateProjectAsync("p-" + org, org);
            await SetWeightAsync(harness, org, weight);
        }
        await RebuildViewAsync(harness); // the shares reach the scheduler as at server start
        var runners = new List<RunnerRef>();
        for (var s = 0; s < Slots; s++) runners.Add(await harness.CreateRunnerAsync("slot-" + s, "self-hosted", "linux"));
        var orgOfRun = new Dictionary<long, string>();
        var queued = weights.Keys.ToDictionary(o => o, _ => 0);
        async Task KeepQueuedAsync()
        {
            foreach (var (org, project) in projects)
            {
                // Every organisation always has more waiting than it could run: it saturates on its own.
                while (queued[org] < Slots * 2)
                {
                    var run = await harness.TriggerAsync(project, Workflow(JobsPerRun));
                    orgOfRun[run.Id] = org;
                    queued[org] += JobsPerRun;
                }
            }
        }

        var random = new Random(5);
        var slots = new (ClaimedAttempt? Attempt, int TurnsLeft)[Slots];
        var slotTurns = weights.Keys.ToDictionary(o => o, _ => 0);
        var claims = 0;
        for (var turn = 0; turn < Turns; turn++)
        {
            await KeepQueuedAsync();
            for (var s = 0; s < Slots; s++)
            {
                if (slots[s].Attempt is { } running && slots[s].TurnsLeft == 0)
                {
                    Assert.That(await harness.CompleteAsync(running.AttemptId, new AttemptOutcome(Status.Succeeded, 0)), Is.True);
                    slots[s] = default;
                }
            }
            for (var s = 0; s < Slots; s++)
            {
                if (slots[s].Attempt is null)
                {
                    var claimed = await harness.ClaimAsync(runners[s]);
                    Assert.That(claimed, Is.Not.Null, $"turn {turn}, slot {s}: every organisation has work queued");
                    queued[orgOfRun[claimed!.RunId]]--;
                    claims++;
                    slots[s] = (claimed, random.Next(1, 6)); // 1 to 5 turns, whichever organisation
                }
                slotTurns[orgOfRun[slots[s].Attempt!.RunId]]++;
                slots[s].TurnsLeft--;
            }
        }

        var total = (double)slotTurns.Values.Sum();
        var summary = string.Join(", ", weights.Keys.Select(o => $"{o}: {slotTurns[o]} slot-turns ({slotTurns[o] / total:P1})"));
        TestContext.Out.WriteLine($"{db}: {claims} claims over {Turns} turns; {summary}");
        Assert.That(total, Is.EqualTo(Slots * Turns), "the six slots were never idle");
        Assert.Multiple(() =>
        {
            foreach (var (org, weight) in weights)
            {
                var expected = weight / weights.Values.Sum();
                Assert.That(slotTurns[org] / total, Is.EqualTo(expected).Within(5).Percent, $"{org} (weight {weight}); {summary}");
            }
        });
    }

    private static Task<int> SetWeightAsync(ModuleHarness harness, string org, double weight) =>
        harness.InScopeAsync(sp => sp.GetRequiredService<BuildDb>().Set<Organization>().Where(o => o.Name == org)
            .ExecuteUpdateAsync(s => s.SetProperty(o => o.Weight, weight)));

    private static Task<bool> RebuildViewAsync(ModuleHarness harness) =>
        harness.InScopeAsync(async sp =>
        {
            await SchedulerFeed.ResyncAsync(sp.GetRequiredService<BuildDb>(), sp.GetRequiredService<IOrganizationShares>(),
                sp.GetRequiredService<ReadyAttempts>(), CancellationToken.None);
            return true;
        });
}
