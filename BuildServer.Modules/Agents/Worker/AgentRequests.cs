using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using BuildServer.Modules.Agents.Protocol;

namespace BuildServer.Modules.Agents.Worker;

/// <summary>A problem document (RFC 7807) as the agent reads it: one line, and the protocol's extensions.</summary>
internal sealed record ProblemAnswer(string Detail, string? Reason, long? Sequence, long? Length);

/// <summary>What every call of a remote agent shares: how a request carries the token and protocol version, and how a
/// refusal is read.</summary>
internal static class AgentRequests
{
    public static void Sign(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
        request.Headers.Add(AgentWire.ProtocolHeader, AgentWire.ProtocolVersion.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The problem's detail (or title), with any field errors, as one line; <paramref name="fallback"/> when the
    /// body is no problem document.</summary>
    public static async Task<ProblemAnswer> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var fallback = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new ProblemAnswer(fallback, null, null, null);
            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            long? Number(string name) => root.TryGetProperty(name, out var v) && v.TryGetInt64(out var n) ? n : null;
            var detail = Text("detail") ?? Text("title") ?? fallback;
            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
            {
                detail += " " + string.Join(" ", errors.EnumerateObject().Select(e => $"{e.Name}: {e.Value}"));
            }
            return new ProblemAnswer(detail, Text("reason"), Number("sequence"), Number("length"));
        }
        catch (JsonException)
        {
            return new ProblemAnswer(fallback, null, null, null);
        }
    }

    public static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}
