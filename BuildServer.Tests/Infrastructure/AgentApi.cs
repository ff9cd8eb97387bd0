using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// A test playing a remote agent over the raw agent protocol (docs/agents.md): registered through the API with a
/// registration token, then calling <c>/api/v1/agent/*</c> with its <c>bsa_</c> token, so that every status code and
/// problem document is seen exactly as an agent sees it.
/// </summary>
public sealed class AgentApi(long id, string token, string name, HttpClient http) : IDisposable
{
    public long Id => id;
    public string Token => token;
    public string Name => name;
    /// <summary>Authenticated with the agent token; its base address is <c>…/api/v1/agent/</c>.</summary>
    public HttpClient Http => http;

    /// <summary>Registers an agent with the given labels (an org-scoped one if <paramref name="org"/> is set), over
    /// <paramref name="baseAddress"/> (the server's HTTP address unless given) and <paramref name="handler"/>.</summary>
    public static async Task<AgentApi> RegisterAsync(ServerProcess server, string[] labels, string? org = null,
        Uri? baseAddress = null, HttpMessageHandler? handler = null)
    {
        using var admin = server.Client();
        var registration = await ApiClient.ExpectAsync(
            await admin.Http.PostAsJsonAsync("agents/registration-tokens", new { org }), HttpStatusCode.Created);
        var http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = new Uri(baseAddress ?? server.BaseAddress, "api/v1/agent/");
        // Longer than the longest long poll (30 s), so that a held acquire answers rather than the client giving up.
        http.Timeout = TimeSpan.FromSeconds(90);
        using var register = new HttpRequestMessage(HttpMethod.Post, "../agents/register")
        {
            Content = JsonContent.Create(new { labels, slots = 1, version = "1.0.0" }),
        };
        register.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registration["token"]!.GetValue<string>());
        var agent = await ApiClient.ExpectAsync(await http.SendAsync(register), HttpStatusCode.Created);
        var token = agent["agentToken"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new AgentApi(agent["agentId"]!.GetValue<long>(), token, agent["name"]!.GetValue<string>(), http);
    }

    public Task<HttpResponseMessage> AcquireAsync(int? wait, CancellationToken ct = default) =>
        http.PostAsync(wait is { } w ? $"acquire?wait={w}" : "acquire", null, ct);

    /// <summary>Acquires the job of <paramref name="runId"/> (the test's labels make it the only work this agent can take).</summary>
    public async Task<JsonNode> AcquireJobOfAsync(long runId, int wait = 30)
    {
        var job = await ApiClient.ExpectAsync(await AcquireAsync(wait), HttpStatusCode.OK);
        Assert.That(job["runId"]!.GetValue<long>(), Is.EqualTo(runId), job.ToJsonString());
        return job;
    }

    public Task<HttpResponseMessage> HeartbeatAsync(params long[] running) =>
        http.PostAsJsonAsync("heartbeat", new { running, freeSlots = 0 });

    public async Task<JsonNode> HeartbeatOkAsync(params long[] running) =>
        await ApiClient.ExpectAsync(await HeartbeatAsync(running), HttpStatusCode.OK);

    public Task<HttpResponseMessage> LogAsync(long attemptId, long sequence, long offset, byte[] chunk)
    {
        var content = new ByteArrayContent(chunk);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return http.PutAsync(string.Create(CultureInfo.InvariantCulture, $"attempts/{attemptId}/log/{sequence}?offset={offset}"), content);
    }

    public Task<HttpResponseMessage> StepAsync(long attemptId, int index, object update) =>
        http.PostAsJsonAsync($"attempts/{attemptId}/steps/{index}", update);

    public Task<HttpResponseMessage> CompleteAsync(long attemptId, object completion) =>
        http.PostAsJsonAsync($"attempts/{attemptId}/complete", completion);

    public Task<HttpResponseMessage> PostRawAsync(string path, string json) =>
        http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Log lines in the server's format, as an agent sends them.</summary>
    public static byte[] Lines(params string[] texts) =>
        Encoding.UTF8.GetBytes(string.Concat(texts.Select(t => $"2026-11-24T12:00:00.0000000Z {t}\n")));

    public void Dispose() => http.Dispose();
}
