using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BuildServer.Bench;

/// <summary>A keep-alive HTTP client of one server's API (one TCP connection, loopback only, no proxy).</summary>
internal sealed class Api : IDisposable
{
    private readonly HttpClient _http;

    public Api(string baseUrl, string? token, TimeSpan? timeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false, // never route loopback traffic anywhere else, whatever the environment says
            MaxConnectionsPerServer = 1,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            AllowAutoRedirect = false,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl), Timeout = timeout ?? TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public async Task<HttpStatusCode> StatusAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        return response.StatusCode;
    }

    public async Task<JsonNode> GetJsonAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new BenchException($"GET {path} -> {(int)response.StatusCode} {Trim(body)}");
        }
        return JsonNode.Parse(body) ?? throw new BenchException($"GET {path}: empty body");
    }

    public async Task<string> GetTextAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new BenchException($"GET {path} -> {(int)response.StatusCode} {Trim(body)}");
        }
        return body;
    }

    /// <summary>POSTs JSON; never retried (a retry could queue a duplicate run).</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> PostJsonAsync(string path, string json, CancellationToken ct)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(path, content, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        JsonNode? node = null;
        try
        {
            node = body.Length > 0 ? JsonNode.Parse(body) : null;
        }
        catch (JsonException)
        {
            // not JSON: reported by the caller through the status
        }
        return (response.StatusCode, node);
    }

    /// <summary>Triggers a run of <paramref name="pipelineYaml"/>; returns the new run's id.</summary>
    public async Task<JsonNode> TriggerAsync(string project, string pipelineYaml, CancellationToken ct)
    {
        var body = new JsonObject { ["pipeline"] = pipelineYaml }.ToJsonString();
        var (status, node) = await PostJsonAsync($"/api/v1/projects/{project}/runs", body, ct);
        if (status != HttpStatusCode.Created || node is null)
        {
            throw new BenchException($"trigger -> {(int)status} {Trim(node?.ToJsonString() ?? "")}");
        }
        return node;
    }

    private static string Trim(string s) => s.Length > 300 ? s[..300] : s;

    public void Dispose() => _http.Dispose();
}

internal sealed class BenchException(string message) : Exception(message);

/// <summary>Reading the API's JSON.</summary>
internal static class Json
{
    public static long Long(JsonNode? node, string name) =>
        node?[name]?.GetValue<long>() ?? throw new BenchException($"no '{name}' in {node?.ToJsonString()}");

    public static string? Str(JsonNode? node, string name) => node?[name]?.GetValue<string>();

    /// <summary>A timestamp field as Unix seconds, or null when absent.</summary>
    public static double? Time(JsonNode? node, string name) =>
        Str(node, name) is { } s ? Clock.Unix(DateTimeOffset.Parse(s, CultureInfo.InvariantCulture)) : null;
}
