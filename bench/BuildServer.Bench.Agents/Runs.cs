using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace BuildServer.Bench.Agents;

/// <summary>Triggering runs and reading them back through the admin API.</summary>
internal static class Runs
{
    public static async Task CreateProjectAsync(HttpClient admin, string name, CancellationToken ct)
    {
        using var response = await admin.PostAsJsonAsync("/api/v1/projects", new { name }, ct);
        response.EnsureSuccessStatusCode();
    }

    public static async Task<JsonObject> TriggerAsync(HttpClient admin, string project, string pipeline, CancellationToken ct)
    {
        using var response = await admin.PostAsJsonAsync($"/api/v1/projects/{project}/runs", new { pipeline }, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"trigger: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
        return (await response.Content.ReadFromJsonAsync<JsonObject>(ct))!;
    }

    /// <summary>Polls <c>GET /api/v1/runs/{id}</c> every <paramref name="pollMs"/> until the run has finished.</summary>
    public static async Task<JsonObject> WaitFinishedAsync(HttpClient admin, long id, int pollMs, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (true)
        {
            var run = (await admin.GetFromJsonAsync<JsonObject>($"/api/v1/runs/{id}", ct))!;
            if (run["finishedAt"] is not null) return run;
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"run {id} did not finish in {timeout.TotalSeconds} s: {run.ToJsonString()}");
            await Task.Delay(pollMs, ct);
        }
    }

    public static DateTimeOffset? Time(JsonNode? node) =>
        node is null ? null : DateTimeOffset.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture);

    public static double Ms(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } f && to is { } t ? (t - f).TotalMilliseconds : double.NaN;
}
