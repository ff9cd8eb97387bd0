using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>
/// Log ingest and tail: one job printing <c>lines</c> lines of 100 bytes (99 digits and a line end, by awk),
/// run by a real <c>buildserver agent</c> over HTTPS (pinned). Ingest: the stored log's size (the <c>X-Log-Size</c>
/// header of <c>GET /api/v1/jobs/{id}/log?tail=0</c>, polled every <c>pollMs</c>, 50 by default) from its first byte to its last, and the
/// server's step start → finish. Baseline in the same run: the same command by bash into a file and into /dev/null.
/// Tail: <c>GET /api/v1/jobs/{id}/log?tail=1000</c> (HTTP and HTTPS), median of <c>reads</c>, beside
/// <c>tail -n 1000</c> of the stored file.
/// </summary>
internal static class LogsBench
{
    public static async Task<JsonObject> RunAsync(int lines, int reads, int pollMs, CancellationToken ct)
    {
        // awk rather than `yes | head`: a process started by .NET inherits SIGPIPE ignored, so `yes` would fail on EPIPE.
        var command = $"awk 'BEGIN {{ s = sprintf(\"%099d\", 0); for (i = 0; i < {lines}; i++) print s }}'";
        var payloadBytes = 100L * lines;
        await using var server = await BenchServer.StartAsync("logs", ["--Agent:Slots=0"], ct);
        var load = new MachineLoad();
        var cpuStart = server.CpuSeconds();

        var scratch = Path.Combine(server.DataDir, "baseline.out");
        var toFile = Timed(() => Shell($"{command} > {scratch}"));
        var toNull = Timed(() => Shell($"{command} > /dev/null"));
        File.Delete(scratch);

        var token = await server.RegistrationTokenAsync(ct);
        server.StartAgent("logs", "logs", 1, token);
        await server.WaitForAgentAsync("logs", ct);
        await Runs.CreateProjectAsync(server.Admin, "logs", ct);

        var cpu0 = server.CpuSeconds();
        var agentCpu0 = server.AgentsCpuSeconds();
        var t0 = Stopwatch.GetTimestamp();
        var run = await Runs.TriggerAsync(server.Admin, "logs", Pipeline(command), ct);
        var runId = run["id"]!.GetValue<long>();
        var jobId = run["jobs"]![0]!["id"]!.GetValue<long>();
        double? first = null, last = null;
        long size = 0;
        JsonObject? done = null;
        while (done is null)
        {
            var now = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            var s = await LogSizeAsync(server.Admin, jobId, ct);
            if (s > 0 && first is null) first = now;
            if (s > size) (size, last) = (s, now);
            var view = (await server.Admin.GetAsync($"/api/v1/runs/{runId}", ct));
            var json = JsonNode.Parse(await view.Content.ReadAsStringAsync(ct))!.AsObject();
            view.Dispose();
            if (json["finishedAt"] is not null)
            {
                done = json;
                var final = await LogSizeAsync(server.Admin, jobId, ct);
                if (final > size) (size, last) = (final, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            else
            {
                await Task.Delay(pollMs, ct);
            }
            if (now > 600) throw new TimeoutException("the log job did not finish in 600 s");
        }
        var serverCpu = server.CpuSeconds() - cpu0;
        var agentCpu = server.AgentsCpuSeconds() - agentCpu0;
        var attempt = done["jobs"]![0]!["attempts"]!.AsArray()[^1]!;
        var step = attempt["steps"]![0]!;
        var stepMs = Runs.Ms(Runs.Time(step["startedAt"]), Runs.Time(step["finishedAt"]));
        var attemptMs = Runs.Ms(Runs.Time(attempt["startedAt"]), Runs.Time(attempt["finishedAt"]));
        var firstToLast = (last ?? 0) - (first ?? 0);

        // The server's share alone: the same volume sent by a simulated agent in this process.
        var serverOnly = await ServerIngest.RunAsync(server, token, payloadBytes, ct);

        // Tail reads over the admin API, HTTP and HTTPS, and `tail -n 1000` of the stored file.
        var tailHttp = await TailReadsAsync(server.Admin, jobId, reads, ct);
        using var https = new HttpClient(server.PinnedHandler()) { BaseAddress = new Uri(server.HttpsUrl) };
        https.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.AdminToken);
        var tailHttps = await TailReadsAsync(https, jobId, reads, ct);
        var file = Directory.EnumerateFiles(Path.Combine(server.DataDir, "logs"), "*.log", SearchOption.AllDirectories)
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}{runId}{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .OrderByDescending(f => new FileInfo(f).Length).First();
        var tailDisk = new Timings();
        for (var i = 0; i < reads + 2; i++)
        {
            var ms = Timed(() => Shell($"tail -n 1000 {file} > /dev/null"));
            if (i >= 2) tailDisk.AddMs(ms);
        }

        const double Mb = 1_000_000.0;
        var result = new JsonObject
        {
            ["command"] = command,
            ["payload_bytes"] = payloadBytes,
            ["stored_log_bytes"] = size,
            ["stored_log_file_bytes"] = new FileInfo(file).Length,
            ["status"] = done["status"]?.GetValue<string>(),
            ["ingest"] = new JsonObject
            {
                ["first_to_last_byte_stored_s"] = Math.Round(firstToLast, 3),
                ["stored_mb_per_s_first_to_last_byte"] = Math.Round(size / Mb / firstToLast, 1),
                ["payload_mb_per_s_first_to_last_byte"] = Math.Round(payloadBytes / Mb / firstToLast, 1),
                ["step_started_to_finished_ms"] = Math.Round(stepMs, 1),
                ["payload_mb_per_s_step"] = Math.Round(payloadBytes / Mb / (stepMs / 1000), 1),
                ["attempt_started_to_finished_ms"] = Math.Round(attemptMs, 1),
                ["trigger_to_last_byte_s"] = Math.Round(last ?? 0, 3),
                ["poll_interval_ms"] = pollMs,
                ["server_cpu_s"] = Math.Round(serverCpu, 2),
                ["agent_cpu_s_with_step"] = Math.Round(agentCpu, 2),
                ["server_cpu_ms_per_stored_mb"] = Math.Round(1000 * serverCpu / (size / Mb), 2),
                ["agent_cpu_ms_per_stored_mb"] = Math.Round(1000 * agentCpu / (size / Mb), 2),
            },
            ["ingest_server_only_simulated_agent"] = serverOnly,
            ["ingest_target_mb_per_s"] = 100,
            ["ingest_target_met"] = payloadBytes / Mb / firstToLast >= 100,
            ["baseline_bash_to_file_ms"] = Math.Round(toFile, 1),
            ["baseline_bash_to_file_mb_per_s"] = Math.Round(payloadBytes / Mb / (toFile / 1000), 1),
            ["baseline_bash_to_devnull_ms"] = Math.Round(toNull, 1),
            ["ingest_time_over_bash_to_file"] = Math.Round(firstToLast * 1000 / toFile, 2),
            ["tail_1000_http"] = tailHttp.ToJson(),
            ["tail_1000_https"] = tailHttps.ToJson(),
            ["tail_target_ms"] = 50,
            ["tail_target_met"] = tailHttp.Percentile(50) <= 50 && tailHttps.Percentile(50) <= 50,
            ["baseline_tail_n_1000_file_forked"] = tailDisk.ToJson(),
            ["tail_http_p50_over_tail_file"] = Timings.Ratio(tailHttp, tailDisk),
        };
        result["machine"] = load.Stop(server.CpuSeconds() - cpuStart + server.AgentsCpuSeconds());
        return result;
    }

    private static string Pipeline(string command) => $"""
        on: workflow_dispatch
        jobs:
          big:
            runs-on: [logs]
            steps:
              - run: |
                  {command}
        """;

    private static async Task<long> LogSizeAsync(HttpClient admin, long jobId, CancellationToken ct)
    {
        using var response = await admin.GetAsync($"/api/v1/jobs/{jobId}/log?tail=0", ct);
        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("X-Log-Size", out var v) ? long.Parse(v.First(), CultureInfo.InvariantCulture) : 0;
    }

    private static async Task<Timings> TailReadsAsync(HttpClient client, long jobId, int reads, CancellationToken ct)
    {
        var timings = new Timings();
        for (var i = 0; i < reads + 2; i++)
        {
            var t = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync($"/api/v1/jobs/{jobId}/log?tail=1000", ct);
            response.EnsureSuccessStatusCode();
            var text = await response.Content.ReadAsStringAsync(ct);
            if (i >= 2) timings.Add(t);
            var count = text.Count(c => c == '\n');
            if (count != 1000) throw new InvalidOperationException($"tail=1000 gave {count} lines");
        }
        return timings;
    }

    private static double Timed(Action action)
    {
        var t = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(t).TotalMilliseconds;
    }

    private static void Shell(string script)
    {
        using var p = Process.Start("bash", ["--noprofile", "--norc", "-o", "pipefail", "-c", script])!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"`{script}` exited with {p.ExitCode}");
    }
}
