using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>
/// The server's share of log ingest alone: a simulated agent in this process (registered with the same token, labels
/// [logs-sim]) acquires a one-step job and sends the log itself as pre-built chunks of whole lines in the server's
/// format (the same 100-byte payload lines with their 29-byte timestamp, about 1 MiB per chunk, the real agent's
/// chunk size) over HTTPS with the pinned certificate, one after the other, then completes the job. Nothing is
/// produced or formatted while timing: the wall time and the server's CPU are the server's ingest cost.
/// </summary>
internal static class ServerIngest
{
    private static readonly string[] Labels = ["logs-sim"];

    public static async Task<JsonObject> RunAsync(BenchServer server, string registration, long payloadBytes, CancellationToken ct)
    {
        using var http = new HttpClient(server.PinnedHandler()) { BaseAddress = new Uri(server.HttpsUrl) };
        using var register = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents/register")
        {
            Content = JsonContent.Create(new { name = "logs-sim", labels = Labels, slots = 1, version = server.Version }),
        };
        register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registration);
        using var registered = await http.SendAsync(register, ct);
        registered.EnsureSuccessStatusCode();
        var agentToken = (await registered.Content.ReadFromJsonAsync<JsonObject>(ct))!["agentToken"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", agentToken);
        http.DefaultRequestHeaders.Add("BuildServer-Agent-Protocol", "1");

        await Runs.TriggerAsync(server.Admin, "logs", """
            on: workflow_dispatch
            jobs:
              sim:
                runs-on: [logs-sim]
                steps:
                  - run: "true"
            """, ct);
        using var acquired = await http.PostAsync("/api/v1/agent/acquire?wait=30", null, ct);
        acquired.EnsureSuccessStatusCode();
        var attempt = (await acquired.Content.ReadFromJsonAsync<JsonObject>(ct))!["attemptId"]!.GetValue<long>();

        var line = $"{DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture)} {new string('0', 99)}\n";
        var linesPerChunk = 1024 * 1024 / line.Length;
        var chunk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(line, linesPerChunk)));
        var chunks = (int)Math.Ceiling(payloadBytes / 100.0 / linesPerChunk);
        var cpu0 = server.CpuSeconds();
        var t0 = Stopwatch.GetTimestamp();
        long offset = 0;
        for (var sequence = 1; sequence <= chunks; sequence++)
        {
            var content = new ByteArrayContent(chunk);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await http.PutAsync($"/api/v1/agent/attempts/{attempt}/log/{sequence}?offset={offset}", content, ct);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"chunk {sequence}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
            offset += chunk.Length;
        }
        var seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var cpu = server.CpuSeconds() - cpu0;
        using var completed = await http.PostAsJsonAsync($"/api/v1/agent/attempts/{attempt}/complete", new
        {
            status = "succeeded",
            exitCode = 0,
            lastStep = new { index = 0, status = "succeeded", exitCode = 0, logEnd = offset },
        }, ct);
        completed.EnsureSuccessStatusCode();
        const double Mb = 1_000_000.0;
        return new JsonObject
        {
            ["chunks"] = chunks,
            ["chunk_bytes"] = chunk.Length,
            ["stored_bytes"] = offset,
            ["seconds"] = Math.Round(seconds, 3),
            ["stored_mb_per_s"] = Math.Round(offset / Mb / seconds, 1),
            ["payload_mb_per_s"] = Math.Round(chunks * linesPerChunk * 100 / Mb / seconds, 1),
            ["server_cpu_s"] = Math.Round(cpu, 2),
            ["server_cpu_ms_per_stored_mb"] = Math.Round(1000 * cpu / (offset / Mb), 2),
        };
    }
}
