using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace BuildServer.Tests.Infrastructure;

/// <summary>A thin client over the HTTP API that returns JSON nodes, so tests read the wire format as users see it.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    public HttpClient Http => http;

    public async Task<JsonNode> CreateProjectAsync(string name, string? pipelinePath = null)
    {
        var response = await http.PostAsJsonAsync("projects", new { name, pipelinePath });
        return await ExpectAsync(response, HttpStatusCode.Created);
    }

    public Task<HttpResponseMessage> TriggerAsync(string project, string? pipeline, object? extra = null) =>
        http.PostAsJsonAsync($"projects/{project}/runs", extra ?? new { pipeline });

    public async Task<long> TriggerRunAsync(string project, string pipeline)
    {
        var run = await ExpectAsync(await TriggerAsync(project, pipeline), HttpStatusCode.Created);
        return run["id"]!.GetValue<long>();
    }

    public async Task<JsonNode> GetRunAsync(long id) => await ExpectAsync(await http.GetAsync($"runs/{id}"), HttpStatusCode.OK);

    public async Task<JsonNode> WaitForRunAsync(long id, TimeSpan? timeout = null, params string[] statuses) =>
        await Eventually.Until(() => GetRunAsync(id),
            run => (statuses.Length == 0 ? Finished : statuses).Contains(run["status"]!.GetValue<string>()),
            timeout ?? TimeSpan.FromSeconds(60), $"run {id} to reach {(statuses.Length == 0 ? "a final status" : string.Join("/", statuses))}");

    public async Task<string> JobLogAsync(long jobId, string query = "") =>
        await (await Expect(await http.GetAsync($"jobs/{jobId}/log{query}"), HttpStatusCode.OK)).Content.ReadAsStringAsync();

    public async Task<string> StepLogAsync(long stepId, string query = "") =>
        await (await Expect(await http.GetAsync($"steps/{stepId}/log{query}"), HttpStatusCode.OK)).Content.ReadAsStringAsync();

    public static readonly string[] Finished = ["succeeded", "failed", "cancelled", "skipped", "timed_out"];

    public static JsonNode Job(JsonNode run, string key) =>
        run["jobs"]!.AsArray().Single(j => j!["key"]!.GetValue<string>() == key)!;

    public static string Status(JsonNode node) => node["status"]!.GetValue<string>();

    /// <summary>The text of log lines, without their timestamps.</summary>
    public static string[] Lines(string log) =>
        log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[(l.IndexOf(' ') + 1)..]).ToArray();

    public static async Task<JsonNode> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        await Expect(response, status);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    public static async Task<HttpResponseMessage> Expect(HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            Assert.Fail($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}, " +
                        $"expected {(int)status}: {await response.Content.ReadAsStringAsync()}");
        }
        return response;
    }

    public void Dispose() => http.Dispose();
}
