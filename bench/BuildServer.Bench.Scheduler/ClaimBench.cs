using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Modules.Agents;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// The full claim as an agent makes it (<see cref="IAttemptLifecycle.TryClaimAsync"/>: the decision, the
/// conditional UPDATE, job/run marked started and two events, in one transaction, then the claim loaded), with
/// 100,000 queued attempts in the database: one run of 100 jobs per organisation over 1,000 organisations,
/// triggered through <see cref="IRunTrigger"/> as the API does. The view is then built by a fresh service
/// provider with <see cref="SchedulerFeed.ResyncAsync"/>, as at server start (timed). An agent with 8 slots
/// in a steady state: after each claim, the oldest of more than 8 running attempts is completed. Baseline: the
/// bare conditional UPDATE of one row by primary key (an attempt's lease) on the same database, interleaved.
/// </summary>
internal sealed class ClaimBench(IConfiguration configuration, int orgs, int claims, int warmup)
{
    private static readonly HashSet<string> AgentLabels = ["self-hosted", "linux", "x64"];

    public static IConfiguration Configuration(string dataDir, string? postgres) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DataDir"] = dataDir,
            ["Database:Provider"] = postgres is null ? "Sqlite" : "Postgres",
            ["Database:ConnectionString"] = postgres,
        }).Build();

    private ServiceProvider Services() => new ServiceCollection().AddLogging().AddBuildServerModules(configuration).BuildServiceProvider();

    public async Task<JsonObject> RunAsync(CancellationToken ct)
    {
        var result = new JsonObject();
        long runnerId;
        await using (var services = Services())
        {
            await services.GetRequiredService<DatabaseMigrator>().MigrateAsync(ct);
            var seed = Stopwatch.GetTimestamp();
            runnerId = await SeedAsync(services, ct);
            result["seed_s"] = Math.Round(Stopwatch.GetElapsedTime(seed).TotalSeconds, 1);
        }

        // A new provider is a new process's view: empty until rebuilt from the tables, as at server start.
        await using var sp = Services();
        var ready = sp.GetRequiredService<ReadyAttempts>();
        var resync = new JsonArray();
        for (var i = 0; i < 3; i++)
        {
            await using var scope = sp.CreateAsyncScope();
            var start = Stopwatch.GetTimestamp();
            await SchedulerFeed.ResyncAsync(scope.ServiceProvider.GetRequiredService<BuildDb>(),
                scope.ServiceProvider.GetRequiredService<IOrganizationShares>(), ready, ct);
            resync.Add(Math.Round(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 1));
        }
        result["queued"] = ready.Count;
        result["resync_ms"] = resync; // the first is the start-up rebuild (cold), then the periodic one

        var runner = new RunnerRef(runnerId, "bench-agent", AgentLabels);
        var decision = new Timings();
        for (var i = 0; i < warmup + claims; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var item = ready.Reserve(AgentLabels);
            if (i >= warmup) decision.Add(start);
            if (item is null) throw new InvalidOperationException("nothing to reserve");
            ready.Release(item);
            ready.Add(item); // back where it was: the view is unchanged for the claims below
        }
        result["decision_on_this_view"] = decision.ToJson();

        var claim = new Timings();
        var complete = new Timings();
        var update = new Timings();
        var running = new Queue<long>();
        for (var i = 0; i < warmup + claims; i++)
        {
            var start = Stopwatch.GetTimestamp();
            ClaimedAttempt? claimed;
            await using (var scope = sp.CreateAsyncScope())
            {
                claimed = await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().TryClaimAsync(runner, ct);
            }
            if (i >= warmup) claim.Add(start);
            if (claimed is null) throw new InvalidOperationException($"claim {i} found nothing with {ready.Count} queued");
            running.Enqueue(claimed.AttemptId);

            start = Stopwatch.GetTimestamp();
            await using (var scope = sp.CreateAsyncScope())
            {
                var now = DateTimeOffset.UtcNow;
                var id = claimed.AttemptId;
                var rows = await scope.ServiceProvider.GetRequiredService<BuildDb>().Set<JobAttempt>()
                    .Where(a => a.Id == id && a.Status == Status.Running)
                    .ExecuteUpdateAsync(s => s.SetProperty(a => a.LeaseExpiresAt, now.AddMinutes(5)), ct);
                if (rows != 1) throw new InvalidOperationException("the baseline update missed its row");
            }
            if (i >= warmup) update.Add(start);

            if (running.Count > 8)
            {
                var done = running.Dequeue();
                start = Stopwatch.GetTimestamp();
                await using (var scope = sp.CreateAsyncScope())
                {
                    await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>()
                        .CompleteAttemptAsync(done, new AttemptOutcome(Status.Succeeded, 0), null, ct);
                }
                if (i >= warmup) complete.Add(start);
            }
        }
        result["claim"] = claim.ToJson();
        result["baseline_update_by_pk"] = update.ToJson();
        result["complete"] = complete.ToJson();
        result["claim_vs_baseline_p50"] = Timings.Ratio(claim, update);
        result["queued_after"] = ready.Count;
        result["target_claim_p50_le_1ms_met"] = claim.Percentile(50) <= 1000;
        return result;
    }

    /// <summary>The organisations (weights and quotas as in <see cref="DecisionBench"/>), a project each, and one
    /// run of 100 jobs per organisation across the 4 lanes; returns the agent's runner id.</summary>
    private async Task<long> SeedAsync(ServiceProvider services, CancellationToken ct)
    {
        List<ProjectInfo> projects;
        long runnerId;
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BuildDb>();
            var now = DateTimeOffset.UtcNow;
            var created = new List<Project>();
            for (var i = 1; i <= orgs; i++)
            {
                var share = DecisionBench.ShareOf(i);
                var org = new Organization { Name = $"org-{i:D4}", MaxRunning = share.MaxRunning, Weight = share.Weight, CreatedAt = now };
                created.Add(new Project { Name = $"p-{i:D4}", Organization = org, CreatedAt = now });
            }
            db.AddRange(created);
            var runner = new Runner { Name = "bench-agent", Kind = "builtin", Labels = [.. AgentLabels], Slots = 8, CreatedAt = now };
            db.Add(runner);
            await db.SaveChangesAsync(ct);
            projects = created.Select(p => new ProjectInfo(p.Id, p.Name, p.Organization!.Name, null, null, p.OrganizationId)).ToList();
            runnerId = runner.Id;
        }
        var started = Stopwatch.GetTimestamp();
        var done = 0;
        foreach (var project in projects)
        {
            await using var scope = services.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<IRunTrigger>().TriggerAsync(
                new TriggerRequest(project, Workflow((int)(project.OrgId % DecisionBench.LabelSets.Length)), "refs/heads/main", null, null, "bench"), ct);
            if (result.Run is null) throw new InvalidOperationException("trigger failed: " + string.Join("; ", result.Errors));
            if (++done % 100 == 0) Log.Info($"seeded {done} runs ({done * 100} attempts, {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s)");
        }
        return runnerId;
    }

    /// <summary>100 jobs: 5 critical, 15 high, 60 normal, 20 low, runs-on one of two label sets of the organisation.</summary>
    internal static string Workflow(int labelSet)
    {
        var b = new StringBuilder("on: workflow_dispatch\njobs:\n");
        foreach (var (lane, count, set) in new[] { ("critical", 5, 0), ("high", 15, 1), ("normal", 60, 0), ("low", 20, 1) })
        {
            var labels = DecisionBench.LabelSets[(labelSet + set) % DecisionBench.LabelSets.Length];
            b.Append($"  {lane}:\n    priority: {lane}\n    runs-on: [{string.Join(", ", labels)}]\n")
             .Append($"    strategy:\n      matrix:\n        n: [{string.Join(", ", Enumerable.Range(1, count))}]\n")
             .Append("    steps:\n      - run: \"true\"\n");
        }
        return b.ToString();
    }
}
