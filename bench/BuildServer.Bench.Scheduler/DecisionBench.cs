using System.Diagnostics;
using System.Text.Json.Nodes;
using BuildServer.Modules.Scheduling;
using Microsoft.Extensions.Options;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// The scheduling decision alone (<see cref="ReadyAttempts.Reserve"/>) over 100,000 waiting attempts, 1,000
/// organisations with weights 1–10 (every tenth with a quota of 3 running), 4 lanes and 4 runs-on label sets,
/// in a steady state: every reserved attempt runs for a while in one of 64 simulated slots, then finishes,
/// and its organisation queues a new one, so the queue stays at its size. Each decision is timed by itself.
/// Baseline: the bare operations of the same size, a SortedSet pop + push (a single FIFO queue) and a
/// Dictionary lookup. Each decision's wall time is reported, and beside it the thread's CPU time
/// (<see cref="ThreadCpu"/>), which a busy machine does not inflate.
/// </summary>
internal static class DecisionBench
{
    public static readonly string[][] LabelSets = [["self-hosted"], ["self-hosted", "linux"], ["self-hosted", "linux", "x64"], ["self-hosted", "gpu"]];

    /// <summary>Lane of the i-th attempt: 5 % critical, 15 % high, 60 % normal, 20 % low.</summary>
    public static Lane LaneOf(int i) => (i % 20) switch { 0 => Lane.Critical, < 4 => Lane.High, < 16 => Lane.Normal, _ => Lane.Low };

    public static OrgShare ShareOf(int org) => new(org % 10 == 0 ? 3 : 0, 1 + org % 10);

    public static JsonObject Run(int queued, int orgs, int iterations, int warmup)
    {
        var ready = new ReadyAttempts(Options.Create(new SchedulerOptions()), TimeProvider.System);
        var random = new Random(1);
        var queuedAt = DateTimeOffset.UtcNow.AddHours(-1);
        long nextId = 0;
        ReadyItem NewItem(int org)
        {
            var id = ++nextId;
            // Each organisation uses two of the label sets; its attempts alternate lanes in the mix above.
            var labels = LabelSets[(org + (int)(id % 2)) % LabelSets.Length];
            return new ReadyItem(id, org, LaneOf(random.Next(20)), labels, queuedAt.AddMilliseconds(id));
        }
        for (var org = 1; org <= orgs; org++) ready.SetShare(org, ShareOf(org));
        var items = new List<ReadyItem>(queued);
        var build = Stopwatch.GetTimestamp();
        for (var i = 0; i < queued; i++)
        {
            var item = NewItem(1 + random.Next(orgs));
            items.Add(item);
            ready.Add(item);
        }
        var buildMs = Stopwatch.GetElapsedTime(build).TotalMilliseconds;

        // The periodic rebuild when the view is already right (the usual case): the whole Reset call, which
        // includes indexing the record outside the view's lock; decisions wait only for the part under the lock.
        var shares = Enumerable.Range(1, orgs).ToDictionary(o => (long)o, ShareOf);
        var resets = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            ready.BeginSnapshot();
            var reset = Stopwatch.GetTimestamp();
            ready.Reset(items, [], shares);
            resets.Add(Math.Round(Stopwatch.GetElapsedTime(reset).TotalMilliseconds, 1));
        }

        var agents = new (string Name, IReadOnlySet<string> Labels)[]
        {
            ("linux_agent", new HashSet<string> { "self-hosted", "linux", "x64" }),
            ("gpu_agent", new HashSet<string> { "self-hosted", "gpu" }),
            ("no_match_agent", new HashSet<string> { "windows" }), // worst case: looks at every lane and org, finds nothing
        };
        var result = new JsonObject
        {
            ["queued"] = ready.Count,
            ["orgs"] = orgs,
            ["lanes"] = 4,
            ["label_sets"] = LabelSets.Length,
            ["lane_mix"] = "5% critical, 15% high, 60% normal, 20% low",
            ["shares"] = "weight 1-10; every 10th org max 3 running",
            ["view_build_ms"] = Math.Round(buildMs, 1),
            ["periodic_reset_ms"] = new JsonArray([.. resets.Select(r => (JsonNode)r)]),
        };
        var running = new Queue<ReadyItem>();
        Timings? linux = null;
        foreach (var (name, labels) in agents)
        {
            var timings = new Timings();
            var cpu = new Timings();
            for (var i = 0; i < warmup + iterations; i++)
            {
                var cpuStart = ThreadCpu.NowMicroseconds();
                var start = Stopwatch.GetTimestamp();
                var item = ready.Reserve(labels);
                if (i >= warmup)
                {
                    timings.Add(start);
                    cpu.AddMicroseconds(ThreadCpu.NowMicroseconds() - cpuStart);
                }
                if (item is null) continue;
                ready.Claimed(item);
                running.Enqueue(item);
                ready.Add(NewItem((int)item.OrgId));
                if (running.Count > 64)
                {
                    var done = running.Dequeue();
                    ready.Finished(done.OrgId, done.AttemptId);
                }
            }
            result[name] = timings.ToJson();
            result[name + "_thread_cpu"] = cpu.ToJson();
            linux ??= timings;
        }
        result["queued_after"] = ready.Count;

        var fifo = new SortedSet<(DateTimeOffset At, long Id)>();
        var byId = new Dictionary<long, ReadyItem>();
        for (var i = 0; i < queued; i++)
        {
            var item = NewItem(1 + random.Next(orgs));
            fifo.Add((item.QueuedAt, item.AttemptId));
            byId[item.AttemptId] = item;
        }
        var pop = new Timings();
        var lookup = new Timings();
        var found = 0;
        for (var i = 0; i < warmup + iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var min = fifo.Min;
            fifo.Remove(min);
            fifo.Add((min.At.AddHours(1), min.Id));
            if (i >= warmup) pop.Add(start);
            var key = 1 + random.NextInt64(nextId);
            start = Stopwatch.GetTimestamp();
            if (byId.TryGetValue(key, out _)) found++;
            if (i >= warmup) lookup.Add(start);
        }
        result["baseline_sortedset_pop_push"] = pop.ToJson();
        result["baseline_dictionary_lookup"] = lookup.ToJson();
        result["linux_agent_vs_sortedset_p50"] = Timings.Ratio(linux!, pop);
        result["target_p99_le_1ms_met"] = linux!.Percentile(99) <= 1000;
        GC.KeepAlive(found);
        return result;
    }
}
