using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Hosting;

namespace BuildServer.Modules.Agents.Worker;

/// <summary>A remote agent's transport: the protocol's calls over HTTPS with the agent token. A 4xx answer becomes
/// <see cref="AgentCallRefusedException"/> (with the problem's detail and reason); no answer, a 5xx, 408 or 429
/// becomes <see cref="ServerUnavailableException"/>.</summary>
internal sealed class HttpAgentTransport(HttpClient http, string agentToken) : IAgentTransport
{
    /// <summary>Beyond the long poll itself, how long an acquire may take before the server counts as unreachable.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(15);

    /// <summary>Any other call.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public async Task<AgentJob?> AcquireAsync(TimeSpan wait, CancellationToken ct)
    {
        var seconds = (int)Math.Clamp(wait.TotalSeconds, 0, AgentWire.MaxLongPoll.TotalSeconds);
        using var response = await SendAsync(HttpMethod.Post, $"api/v1/agent/acquire?wait={seconds}", null, TimeSpan.FromSeconds(seconds) + Slack, ct);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await ReadAsync<AgentJob>(response, ct);
    }

    public async Task<HeartbeatResponse> HeartbeatAsync(IReadOnlyCollection<long> running, int freeSlots, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, "api/v1/agent/heartbeat",
            JsonContent.Create(new HeartbeatRequest([.. running], freeSlots), options: JsonDefaults.Options), CallTimeout, ct);
        return await ReadAsync<HeartbeatResponse>(response, ct);
    }

    public async Task<LogChunkResponse> SendLogAsync(long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    {
        var body = new ReadOnlyMemoryContent(chunk);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await SendAsync(HttpMethod.Put,
            string.Create(CultureInfo.InvariantCulture, $"api/v1/agent/attempts/{attemptId}/log/{sequence}?offset={offset}"), body, CallTimeout, ct);
        return await ReadAsync<LogChunkResponse>(response, ct);
    }

    public async Task UpdateStepAsync(long attemptId, int index, StepUpdate update, CancellationToken ct)
    {
        using var _ = await SendAsync(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/v1/agent/attempts/{attemptId}/steps/{index}"),
            JsonContent.Create(update, options: JsonDefaults.Options), CallTimeout, ct);
    }

    public async Task<CompletionResponse> CompleteAsync(long attemptId, CompletionRequest completion, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/v1/agent/attempts/{attemptId}/complete"),
            JsonContent.Create(completion, options: JsonDefaults.Options), CallTimeout, ct);
        return await ReadAsync<CompletionResponse>(response, ct);
    }

    /// <summary>Cancels reach a remote agent with its heartbeats.</summary>
    public Task<CancellationToken> WatchCancelAsync(long attemptId, CancellationToken cancellationToken) => Task.FromResult(CancellationToken.None);

    public void ReleaseWatch(long attemptId)
    {
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? body, TimeSpan timeout, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body };
        AgentRequests.Sign(request, agentToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ServerUnavailableException($"no answer from {http.BaseAddress} within {timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnavailableException($"{http.BaseAddress} cannot be reached: {AgentRequests.Innermost(e).Message}", e);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var status = (int)response.StatusCode;
            var problem = await AgentRequests.ReadProblemAsync(response, ct);
            if (status >= 500 || status is 408 or 429)
            {
                throw new ServerUnavailableException($"the server answered {status}: {problem.Detail}");
            }
            throw new AgentCallRefusedException(status, problem.Reason, problem.Detail, problem.Sequence, problem.Length);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(JsonDefaults.Options, ct)
                   ?? throw new ServerUnavailableException("the server's answer was empty");
        }
        catch (JsonException e)
        {
            throw new ServerUnavailableException("the server's answer is not what this agent understands: " + e.Message, e);
        }
    }
}
