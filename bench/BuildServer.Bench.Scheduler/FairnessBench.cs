using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// Fair share on the real server: a server process (<c>BENCH_SERVER_DLL</c>) on 127.0.0.1 with its built-in
/// agent of 6 slots and SQLite, three organisations with weights 1, 2 and 3 (<c>POST /api/v1/orgs</c>) and a
/// project each. Every organisation is given enough jobs (<c>sleep</c> 1.0–1.9 s each) to fill all 6 slots
/// alone for the whole window, queued round-robin; the window is the <paramref name="duration"/> seconds from
/// the moment the last was queued. Then every run is cancelled, and the attempts' startedAt/finishedAt read
/// back (<c>GET /api/v1/runs/{id}</c>) give each organisation's slot-time inside the window.
/// </summary>
internal static class FairnessBench
{
    private const int Slots = 6;
    private const int JobsPerRun = 24;

    public static async Task<JsonObject> RunAsync(int duration, CancellationToken ct)
    {
        var dll = Environment.GetEnvironmentVariable("BENCH_SERVER_DLL") is { Length: > 0 } d && File.Exists(d)
            ? d : throw new InvalidOperationException("BENCH_SERVER_DLL must name the server's buildserver.dll");
        var dataDir = Directory.CreateTempSubdirectory("bssched-fair-").FullName;
        var port = FreePort();
        var load = new MachineLoad();
        using var server = StartServer(dll, dataDir, port);
        try
        {
            using var http = await ConnectAsync(server, dataDir, port, ct);
            var weights = new (string Org, double Weight)[] { ("fair-w1", 1), ("fair-w2", 2), ("fair-w3", 3) };
            foreach (var (org, weight) in weights)
            {
                (await http.PostAsJsonAsync("/api/v1/orgs", new { name = org, weight }, ct)).EnsureSuccessStatusCode();
                (await http.PostAsJsonAsync("/api/v1/projects", new { name = "p-" + org, org }, ct)).EnsureSuccessStatusCode();
            }
            // Enough for each organisation to keep all slots busy on its own for the whole window (jobs ≥ 1 s).
            var runsPerOrg = (int)Math.Ceiling(duration * Slots / 1.0 / JobsPerRun) + 1;
            var runs = new List<(long Id, string Org)>();
            for (var i = 0; i < runsPerOrg; i++)
            {
                foreach (var (org, _) in weights)
                {
                    var response = await http.PostAsJsonAsync($"/api/v1/projects/p-{org}/runs", new { pipeline = Workflow() }, ct);
                    response.EnsureSuccessStatusCode();
                    var run = (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
                    runs.Add((run["id"]!.GetValue<long>(), org));
                }
            }
            var windowStart = DateTimeOffset.UtcNow;
            var windowEnd = windowStart.AddSeconds(duration);
            Log.Info($"fairness: {runs.Count} runs ({runs.Count * JobsPerRun} jobs) queued; measuring {duration} s");
            await Task.Delay(windowEnd - DateTimeOffset.UtcNow, ct);
            foreach (var (id, _) in runs) using (await http.PostAsync($"/api/v1/runs/{id}/cancel", null, ct)) { }

            var slotSeconds = weights.ToDictionary(w => w.Org, _ => 0.0);
            var started = weights.ToDictionary(w => w.Org, _ => 0);
            var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
            foreach (var (id, org) in runs)
            {
                JsonNode run;
                while (true)
                {
                    run = (await http.GetFromJsonAsync<JsonObject>($"/api/v1/runs/{id}", ct))!;
                    if (run["finishedAt"] is not null || DateTimeOffset.UtcNow > deadline) break;
                    await Task.Delay(200, ct); // the cancelled run's running jobs are still stopping
                }
                foreach (var attempt in run["jobs"]!.AsArray().SelectMany(j => j!["attempts"]!.AsArray()))
                {
                    if (Time(attempt!["startedAt"]) is not { } from) continue;
                    var to = Time(attempt["finishedAt"]) ?? DateTimeOffset.UtcNow;
                    var inWindow = (Min(to, windowEnd) - Max(from, windowStart)).TotalSeconds;
                    if (inWindow > 0) slotSeconds[org] += inWindow;
                    if (from >= windowStart && from < windowEnd) started[org]++;
                }
            }
            var total = slotSeconds.Values.Sum();
            var perOrg = new JsonObject();
            var within = true;
            foreach (var (org, weight) in weights)
            {
                var expected = weight / weights.Sum(w => w.Weight);
                var share = slotSeconds[org] / total;
                var relative = (share - expected) / expected;
                within &= Math.Abs(relative) <= 0.05;
                perOrg[org] = new JsonObject
                {
                    ["weight"] = weight,
                    ["slot_seconds"] = Math.Round(slotSeconds[org], 1),
                    ["jobs_started_in_window"] = started[org],
                    ["share"] = Math.Round(share, 4),
                    ["weight_share"] = Math.Round(expected, 4),
                    ["deviation_points"] = Math.Round(100 * (share - expected), 2),
                    ["deviation_relative_pct"] = Math.Round(100 * relative, 2),
                };
            }
            return new JsonObject
            {
                ["duration_s"] = duration,
                ["slots"] = Slots,
                ["database"] = "sqlite",
                ["job"] = "sleep 1.0-1.9 s (matrix n: sleep 1.(n mod 10))",
                ["jobs_queued"] = runs.Count * JobsPerRun,
                ["slot_utilisation"] = Math.Round(total / (Slots * duration), 4),
                ["orgs"] = perOrg,
                ["within_5pct_of_weight_share"] = within,
                ["machine"] = load.Stop(alsoUnderTest: MachineLoad.ProcessCpuSeconds(server.Id.ToString(CultureInfo.InvariantCulture), children: true)),
            };
        }
        finally
        {
            Stop(server);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static string Workflow() => $$$"""
        on: workflow_dispatch
        jobs:
          work:
            runs-on: self-hosted
            strategy:
              matrix:
                n: [{{{string.Join(", ", Enumerable.Range(1, JobsPerRun))}}}]
            steps:
              - run: sleep 1.$(( ${{ matrix.n }} % 10 ))
        """;

    private static DateTimeOffset? Time(JsonNode? node) =>
        node is null ? null : DateTimeOffset.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static Process StartServer(string dll, string dataDir, int port)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataDir,
        };
        foreach (var a in new[] { dll, "serve", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{port}",
            $"--Agent:Slots={Slots}", "--Serilog:MinimumLevel:Default=Warning" }) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = Process.Start(info)!;
        var log = new StreamWriter(Path.Combine(dataDir, "server.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { lock (log) if (e.Data is not null) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) if (e.Data is not null) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Log.Info($"fairness: server pid {process.Id} on port {port}");
        return process;
    }

    /// <summary>Waits for <c>/healthz</c> and the admin token the server writes on a new database.</summary>
    private static async Task<HttpClient> ConnectAsync(Process server, string dataDir, int port, CancellationToken ct)
    {
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        var tokenFile = Path.Combine(dataDir, "initial-admin-token");
        while (true)
        {
            if (server.HasExited) throw new InvalidOperationException($"the server exited with {server.ExitCode}; see its log");
            try
            {
                using var health = await http.GetAsync("/healthz", ct);
                if (health.StatusCode == HttpStatusCode.OK && File.Exists(tokenFile)) break;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException("the server did not become ready in 60 s");
            await Task.Delay(100, ct);
        }
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(tokenFile, ct)).Trim());
        return http;
    }

    /// <summary>SIGTERM by PID (a graceful stop), SIGKILL after 20 s.</summary>
    private static void Stop(Process server)
    {
        if (server.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (!server.WaitForExit(TimeSpan.FromSeconds(20))) server.Kill();
        server.WaitForExit();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
