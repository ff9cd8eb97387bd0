using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>
/// Throughput, as the Buildbot peer defines it: t0 just before the first submission; N trigger POSTs from
/// <see cref="Options.Concurrency"/> clients (one keep-alive connection each); end = the first poll of the
/// not-finished runs (queued + running + pending) that finds none, polled every 1 s while more than 8 remain
/// and every 0.1 s after. jobs/s = N / (end - t0). Checks: exactly N runs, all succeeded.
/// </summary>
internal static class Burst
{
    public const string Pipeline = "jobs:\n  t:\n    steps:\n      - run: \"true\"\n";

    public static async Task<JsonObject> RunAsync(Options o, Session s, CancellationToken ct)
    {
        var n = o.Burst;
        var runsBefore = s.RunsTriggered;
        var pid = s.Server.Pid;
        var rss = new ConcurrentQueue<ProcMem>();
        using var stopSampler = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sampler = Task.Run(async () =>
        {
            while (!stopSampler.IsCancellationRequested)
            {
                if (ProcMem.Read(pid) is { } m) rss.Enqueue(m);
                try
                {
                    await Task.Delay(100, stopSampler.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }, CancellationToken.None);

        var cpu0 = ProcCpu.Read(pid) ?? throw new BenchException("server gone");
        var own0 = ProcCpu.Own();
        var noise = new NoiseWindow(Session.OwnCpu);
        var ids = new ConcurrentBag<long>();
        var postTimes = new ConcurrentBag<double>();
        var postErrors = new ConcurrentQueue<string>();
        var next = -1;
        var t0 = Stopwatch.GetTimestamp();
        var t0Unix = Clock.UnixNow();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(o.BurstTimeout));
        var submitters = Enumerable.Range(0, o.Concurrency).Select(_ => Task.Run(async () =>
        {
            using var api = new Api(s.Server.BaseUrl, s.Token);
            while (Interlocked.Increment(ref next) < n)
            {
                var sw = Stopwatch.GetTimestamp();
                try
                {
                    var run = await api.TriggerAsync(s.Project, Pipeline, deadline.Token);
                    postTimes.Add(Clock.Since(sw));
                    ids.Add(Json.Long(run, "id"));
                    Interlocked.Increment(ref s.RunsTriggered);
                }
                catch (BenchException e)
                {
                    // a refused trigger is counted and reported (verify.ok = false); the burst goes on
                    postErrors.Enqueue(e.Message);
                }
            }
        }, deadline.Token)).ToArray();
        await Task.WhenAll(submitters);
        var submitS = Clock.Since(t0);
        Log.Info($"burst: {n} runs submitted in {submitS:F2}s");

        int pending;
        var polls = 0;
        while (true)
        {
            pending = await s.CountNotFinishedAsync(deadline.Token);
            polls++;
            if (pending == 0) break;
            if (Clock.Since(t0) > o.BurstTimeout) break;
            await Task.Delay(pending > 8 ? 1000 : 100, deadline.Token);
        }
        var wall = Clock.Since(t0);
        var cpu1 = ProcCpu.Read(pid) ?? throw new BenchException("server gone");
        var own1 = ProcCpu.Own();
        var host = noise.Finish();
        await stopSampler.CancelAsync();
        await sampler;
        var mem = ProcMem.Read(pid);
        Log.Info($"burst: all finished after {wall:F2}s: {n / wall:F1} jobs/s");

        var result = new JsonObject
        {
            ["jobs"] = n,
            ["submit_concurrency"] = o.Concurrency,
            ["agent_slots"] = o.Slots,
            ["server_runs_before"] = runsBefore,
            ["wall_s"] = Math.Round(wall, 3),
            ["jobs_per_s"] = pending == 0 && postErrors.IsEmpty ? Math.Round(n / wall, 2) : null,
            ["accepted_jobs_per_s"] = pending == 0 ? Math.Round(ids.Count / wall, 2) : null,
            ["submit_s"] = Math.Round(submitS, 3),
            ["post_response_ms"] = Stats.SummaryMs(postTimes.ToArray()),
            ["completion_polls"] = polls,
            ["post_errors"] = postErrors.Count,
            ["post_error_first"] = postErrors.TryPeek(out var firstError) ? firstError : null,
            ["server_cpu_s"] = Math.Round(cpu1.Self - cpu0.Self, 2),
            ["server_cpu_s_per_job"] = Math.Round((cpu1.Self - cpu0.Self) / n, 4),
            ["server_user_s"] = Math.Round(cpu1.User - cpu0.User, 2),
            ["server_system_s"] = Math.Round(cpu1.System - cpu0.System, 2),
            ["server_reaped_children_cpu_s"] = Math.Round(cpu1.Children - cpu0.Children, 2),
            ["server_reaped_children_cpu_s_per_job"] = Math.Round((cpu1.Children - cpu0.Children) / n, 4),
            ["bench_cpu_s"] = Math.Round(own1.Total - own0.Total, 2),
            ["host_cpu"] = host,
            ["rss"] = new JsonObject
            {
                ["samples"] = rss.Count,
                ["peak_vm_rss_mb"] = rss.IsEmpty ? null : Stats.Mb(rss.Max(m => m.VmRss)),
                ["peak_private_mb"] = rss.IsEmpty ? null : Stats.Mb(rss.Max(m => m.Private)),
                ["vm_hwm_mb"] = mem is { } m ? Stats.Mb(m.VmHwm) : null,
            },
        };
        if (pending != 0)
        {
            result["error"] = $"{pending} runs still not finished after {o.BurstTimeout}s";
            return result;
        }

        // Verify: exactly the N runs we created, all succeeded; and where the time went.
        var mine = ids.ToHashSet();
        var runs = (await s.ProjectRunsAsync(ct)).Where(r => mine.Contains(Json.Long(r, "id"))).ToList();
        var byStatus = runs.GroupBy(r => Json.Str(r, "status") ?? "?").ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        result["verify"] = new JsonObject
        {
            ["ids_returned"] = ids.Count,
            ["distinct_ids"] = mine.Count,
            ["runs_seen"] = runs.Count,
            ["by_status"] = new JsonObject(byStatus.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["ok"] = postErrors.IsEmpty && mine.Count == n && runs.Count == n && byStatus.GetValueOrDefault("succeeded") == n,
        };
        var created = runs.Select(r => Json.Time(r, "createdAt")).OfType<double>().Order().ToArray();
        var started = runs.Select(r => Json.Time(r, "startedAt")).OfType<double>().Order().ToArray();
        var finished = runs.Select(r => Json.Time(r, "finishedAt")).OfType<double>().Order().ToArray();
        var inSlot = runs.Select(r => Json.Time(r, "finishedAt") - Json.Time(r, "startedAt")).OfType<double>().ToArray();
        var waited = runs.Select(r => Json.Time(r, "startedAt") - Json.Time(r, "createdAt")).OfType<double>().ToArray();
        if (created.Length > 0 && finished.Length > 0)
        {
            var submitEnd = created[^1];
            var doneBySubmitEnd = finished.Count(f => f <= submitEnd);
            result["profile"] = new JsonObject
            {
                ["note"] = "from the runs' createdAt/startedAt/finishedAt (server clock = client clock)",
                ["t0_to_first_created_ms"] = Math.Round(1000 * (created[0] - t0Unix), 1),
                ["created_span_s"] = Math.Round(created[^1] - created[0], 3),
                ["server_accept_rate_per_s"] = Math.Round(n / Math.Max(1e-6, created[^1] - t0Unix), 1),
                // without the completion poll's lag (up to 1 s by the peer's definition): t0 -> last run finished
                ["server_side_jobs_per_s"] = Math.Round(n / Math.Max(1e-6, finished[^1] - t0Unix), 2),
                ["first_started_to_last_finished_s"] = Math.Round(finished[^1] - started[0], 3),
                ["finished_while_submitting"] = doneBySubmitEnd,
                ["drain_rate_after_submit_per_s"] = finished[^1] > submitEnd
                    ? Math.Round((n - doneBySubmitEnd) / (finished[^1] - submitEnd), 1) : null,
                ["last_finished_to_seen_ms"] = Math.Round(1000 * (t0Unix + wall - finished[^1]), 1),
                ["run_started_to_finished_ms"] = Stats.SummaryMs(inSlot),
                ["slot_bound_rate_per_s"] = inSlot.Length > 0 ? Math.Round(o.Slots / inSlot.Average(), 1) : null,
                ["queue_wait_ms"] = Stats.SummaryMs(waited),
            };
        }
        Log.Info($"burst verify: {result["verify"]!.ToJsonString()}");
        return result;
    }
}
