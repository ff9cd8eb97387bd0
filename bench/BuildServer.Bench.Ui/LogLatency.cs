using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Bench.Agents;
using Microsoft.Playwright;

namespace BuildServer.Bench.Ui;

/// <summary>
/// How long a log line takes from the moment the server has it to the moment it is in an open log view (issue 8: at most
/// 100 ms). A simulated agent in this process (the agent protocol over HTTPS, labels [ui-latency]) takes a one-step job
/// and sends <c>lines</c> log chunks of one line each, 200 ms apart; the log view of the job is open in Chromium, where a
/// mutation observer notes when each line's element is added (the page's clock, <c>performance.timeOrigin + now()</c>,
/// the same wall clock as this process's on one machine). Each line's latency is counted from the moment its chunk's
/// PUT was answered (the server has stored it: the figure asked for, a little under the truth by the answer's trip over
/// loopback) and, as an upper bound, from the moment the PUT was sent.
/// </summary>
internal static class LogLatency
{
    private static readonly string[] Labels = ["ui-latency"];

    public static async Task<JsonObject> RunAsync(BenchServer server, IBrowserContext context, int lines, CancellationToken ct)
    {
        using var http = new HttpClient(server.PinnedHandler()) { BaseAddress = new Uri(server.HttpsUrl) };
        var registration = await server.RegistrationTokenAsync(ct);
        using (var register = new HttpRequestMessage(HttpMethod.Post, "/api/v1/agents/register")
        {
            Content = JsonContent.Create(new { name = "ui-latency", labels = Labels, slots = 1, version = server.Version }),
        })
        {
            register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registration);
            using var registered = await http.SendAsync(register, ct);
            registered.EnsureSuccessStatusCode();
            var agentToken = (await registered.Content.ReadFromJsonAsync<JsonObject>(ct))!["agentToken"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", agentToken);
            http.DefaultRequestHeaders.Add("BuildServer-Agent-Protocol", "1");
        }
        var run = await Runs.TriggerAsync(server.Admin, "ui", "jobs:\n  live:\n    runs-on: [ui-latency]\n    steps:\n      - run: \"true\"\n", ct);
        using var acquired = await http.PostAsync("/api/v1/agent/acquire?wait=30", null, ct);
        acquired.EnsureSuccessStatusCode();
        var attempt = (await acquired.Content.ReadFromJsonAsync<JsonObject>(ct))!["attemptId"]!.GetValue<long>();
        var runView = (await server.Admin.GetFromJsonAsync<JsonObject>($"/api/v1/runs/{run["id"]}", ct))!;
        var jobId = runView["jobs"]!.AsArray()[0]!["id"]!.GetValue<long>();

        var page = await context.NewPageAsync();
        var fromStored = new Timings();
        var fromSent = new Timings();
        long offset = 0;
        try
        {
            await page.GotoAsync($"/jobs/{jobId}");
            await Assertions.Expect(page.Locator("[data-test=log][data-ready=true]")).ToBeAttachedAsync(new() { Timeout = 60_000 });
            await page.EvaluateAsync("""
                () => {
                    window.latencySeen = {};
                    new MutationObserver(records => {
                        const at = performance.timeOrigin + performance.now();
                        for (const r of records) for (const n of r.addedNodes) {
                            const m = n.nodeType === 1 && /^lat (\d+)$/.exec(n.querySelector?.('.bs-txt')?.textContent ?? '');
                            if (m && !(m[1] in window.latencySeen)) window.latencySeen[m[1]] = at;
                        }
                    }).observe(document.querySelector('.bs-log-rows'), { childList: true });
                }
                """);
            var sent = new double[lines + 1];
            var stored = new double[lines + 1];
            for (var i = 1; i <= lines; i++)
            {
                var chunk = Encoding.ASCII.GetBytes($"{DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture)} lat {i}\n");
                using var content = new ByteArrayContent(chunk);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                sent[i] = EpochMs();
                using var response = await http.PutAsync($"/api/v1/agent/attempts/{attempt}/log/{i}?offset={offset}", content, ct);
                stored[i] = EpochMs();
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"chunk {i}: {(int)response.StatusCode}");
                offset += chunk.Length;
                await Task.Delay(200, ct);
            }
            await Assertions.Expect(page.Locator("[data-test=log-line]", new() { HasText = $"lat {lines}" })).ToBeAttachedAsync(new() { Timeout = 10_000 });
            var seen = await page.EvaluateAsync<Dictionary<string, double>>("() => window.latencySeen");
            for (var i = 1; i <= lines; i++)
            {
                if (!seen.TryGetValue(i.ToString(CultureInfo.InvariantCulture), out var at)) continue;
                fromStored.AddMs(at - stored[i]);
                fromSent.AddMs(at - sent[i]);
            }
        }
        finally
        {
            await page.CloseAsync(new PageCloseOptions { RunBeforeUnload = true });
            using var completed = await http.PostAsJsonAsync($"/api/v1/agent/attempts/{attempt}/complete",
                new { status = "succeeded", exitCode = 0, lastStep = new { index = 0, status = "succeeded", exitCode = 0, logEnd = offset } }, ct);
        }
        return new JsonObject
        {
            ["lines"] = lines,
            ["seen"] = fromStored.Count,
            ["from_stored_ms"] = fromStored.ToJson(),
            ["from_sent_ms"] = fromSent.ToJson(),
        };
    }

    private static double EpochMs() => (DateTime.UtcNow - DateTime.UnixEpoch).TotalMilliseconds;
}
