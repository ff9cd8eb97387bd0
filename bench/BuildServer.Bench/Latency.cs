using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>
/// Pickup latency, as the Buildbot peer defines it: one run at a time on an idle server (2 warm-up runs
/// dropped, a pause between runs); client wall clock just before the trigger POST -> the <c>date +%s.%N</c>
/// printed by the step's shell (same machine, same clock), read back from the job log.
/// </summary>
internal static class Latency
{
    public const string Pipeline = "jobs:\n  t:\n    steps:\n      - run: date +%s.%N\n";

    private static readonly string[] Segments =
    [
        "client_send_to_run_created", "run_created_to_post_response", "run_created_to_attempt_assigned",
        "attempt_assigned_to_attempt_started", "attempt_started_to_step_started", "step_started_to_command_ran",
        "command_ran_to_step_finished", "step_finished_to_run_finished", "run_finished_to_seen_by_client",
    ];

    public static async Task<JsonObject> RunAsync(Options o, Session s, CancellationToken ct)
    {
        var warmUp = o.LatencyWarmUp;
        var runsBefore = s.RunsTriggered;
        var noise = new NoiseWindow(Session.OwnCpu);
        List<double> pickup = [], turnaround = [], post = [];
        var segments = Segments.ToDictionary(k => k, _ => new List<double>(), StringComparer.Ordinal);
        var cpu0 = ProcCpu.Read(s.Server.Pid);
        for (var i = 0; i < o.LatencyRuns + warmUp; i++)
        {
            if (i == warmUp) cpu0 = ProcCpu.Read(s.Server.Pid); // the measured runs' CPU only
            var tSub = Clock.UnixNow();
            var sw = Stopwatch.GetTimestamp();
            var created = await s.Api.TriggerAsync(s.Project, Pipeline, ct);
            Interlocked.Increment(ref s.RunsTriggered);
            var tPost = Clock.Since(sw);
            var runId = Json.Long(created, "id");
            JsonNode run;
            while (true)
            {
                run = await s.Api.GetJsonAsync($"/api/v1/runs/{runId}", ct);
                if (Session.IsFinished(Json.Str(run, "status"))) break;
                if (Clock.Since(sw) > 60) throw new BenchException($"latency run {runId} not finished after 60 s");
                await Task.Delay(10, ct);
            }
            var tDone = Clock.UnixNow();
            if (Json.Str(run, "status") != "succeeded") throw new BenchException($"latency run {runId}: {run.ToJsonString()}");
            var job = run["jobs"]![0]!;
            var printed = ParsePrinted(await s.Api.GetTextAsync($"/api/v1/jobs/{Json.Long(job, "id")}/log", ct))
                          ?? throw new BenchException($"latency run {runId}: no date in the job log");
            if (i >= warmUp)
            {
                pickup.Add(printed - tSub);
                turnaround.Add(tDone - tSub);
                post.Add(tPost);
                var attempt = job["attempts"]![0]!;
                var step = attempt["steps"]![0]!;
                var runCreated = Json.Time(run, "createdAt");
                void Seg(string name, double? from, double? to)
                {
                    if (from is { } f && to is { } t) segments[name].Add(t - f);
                }
                Seg(Segments[0], tSub, runCreated);
                Seg(Segments[1], runCreated, tSub + tPost);
                Seg(Segments[2], runCreated, Json.Time(attempt, "assignedAt"));
                Seg(Segments[3], Json.Time(attempt, "assignedAt"), Json.Time(attempt, "startedAt"));
                Seg(Segments[4], Json.Time(attempt, "startedAt"), Json.Time(step, "startedAt"));
                Seg(Segments[5], Json.Time(step, "startedAt"), printed);
                Seg(Segments[6], printed, Json.Time(step, "finishedAt"));
                Seg(Segments[7], Json.Time(step, "finishedAt"), Json.Time(run, "finishedAt"));
                Seg(Segments[8], Json.Time(run, "finishedAt"), tDone);
            }
            await Task.Delay(TimeSpan.FromSeconds(o.LatencyGap), ct);
        }
        var cpu1 = ProcCpu.Read(s.Server.Pid);
        var profile = new JsonObject
        {
            ["note"] = "server timestamps (run createdAt, attempt assignedAt/startedAt, step startedAt/finishedAt, run finishedAt) " +
                       "against the client's clock and the step's printed time; same machine, same clock",
        };
        foreach (var name in Segments) profile[name + "_ms"] = Stats.SummaryMs(segments[name]);
        var result = new JsonObject
        {
            ["host_cpu"] = noise.Finish(),
            ["method"] = "client wall clock just before the trigger POST -> `date +%s.%N` run by the step's shell, read from the job log; " +
                         "run polled every 10 ms (GET /api/v1/runs/{id}) for the turnaround",
            ["runs"] = pickup.Count,
            ["server_runs_before"] = runsBefore,
            ["warm_up_dropped"] = warmUp,
            ["gap_s"] = o.LatencyGap,
            ["pickup_ms"] = Stats.SummaryMs(pickup),
            ["turnaround_ms"] = Stats.SummaryMs(turnaround),
            ["post_response_ms"] = Stats.SummaryMs(post),
            ["server_cpu_ms_per_run"] = cpu0 is { } a && cpu1 is { } b
                ? Math.Round(1000 * (b.Self - a.Self) / Math.Max(1, o.LatencyRuns), 1) : null,
            ["profile"] = profile,
        };
        Log.Info($"latency pickup {result["pickup_ms"]?.ToJsonString()}");
        return result;
    }

    /// <summary>The Unix time the step printed: the second field of a log line
    /// (<c>2026-11-24T14:45:38.3441227Z 1795531538.336654622</c>).</summary>
    public static double? ParsePrinted(string log)
    {
        foreach (var line in log.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length >= 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var t) && t > 1e9)
            {
                return t;
            }
        }
        return null;
    }
}
