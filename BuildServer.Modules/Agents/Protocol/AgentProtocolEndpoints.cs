using System.Buffers;
using System.Globalization;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents.Protocol;

/// <summary>
/// The agent protocol over HTTPS, under <c>/api/v1/agent</c> with an agent token (docs/agents.md): acquire (long-poll),
/// heartbeat, log chunks, step updates, completion. Every answer that refuses something is a problem document; those
/// about an attempt carry a <c>reason</c> (<c>superseded</c>, <c>out_of_order</c>, <c>offset_mismatch</c>, <c>log_limit</c>)
/// so an agent acts on it without parsing sentences.
/// </summary>
internal static class AgentProtocolEndpoints
{
    private const int MaxNamedAttempts = 1024;
    private const int MaxReasonLength = 4000;
    private const int MaxOutputs = 256;
    private const int MaxOutputBytes = 1024 * 1024;

    public static void Map(RouteGroupBuilder agent)
    {
        agent.AddEndpointFilter(async (context, next) =>
            CheckVersion(context.HttpContext) is { } refused ? refused : await next(context));
        agent.MapPost("/acquire", Acquire);
        agent.MapPost("/heartbeat", Heartbeat);
        agent.MapPut("/attempts/{id:long}/log/{sequence:long}", Log);
        agent.MapPost("/attempts/{id:long}/steps/{index:int}", Step);
        agent.MapPost("/attempts/{id:long}/complete", Complete);
    }

    /// <summary>An agent names its protocol version in every call; one this server does not speak is told so in one line.</summary>
    private static ProblemHttpResult? CheckVersion(HttpContext http)
    {
        var sent = http.Request.Headers[AgentWire.ProtocolHeader].ToString();
        if (sent.Length == 0 || sent == AgentWire.ProtocolVersion.ToString(CultureInfo.InvariantCulture)) return null;
        return TypedResults.Problem(statusCode: StatusCodes.Status426UpgradeRequired, title: "Incompatible agent",
            detail: $"This server (BuildServer {AgentWire.Version}) speaks agent protocol {AgentWire.ProtocolVersion}, the agent speaks '{sent}': " +
                    $"install BuildServer {AgentWire.Version} on the agent.",
            extensions: new Dictionary<string, object?> { ["serverVersion"] = AgentWire.Version, ["protocol"] = AgentWire.ProtocolVersion });
    }

    private static async Task<IResult> Acquire(HttpContext http, AgentProtocol protocol, IHostApplicationLifetime lifetime, int? wait)
    {
        if (wait is < 0 || wait > (int)AgentWire.MaxLongPoll.TotalSeconds)
        {
            return Problems.Field("wait", $"wait is the seconds to hold the call without work: 0 to {(int)AgentWire.MaxLongPoll.TotalSeconds}.");
        }
        // A stopping server answers its long polls at once, so it stops without waiting them out.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        var job = await protocol.AcquireAsync(AgentAuthentication.Identity(http),
            wait is { } seconds ? TimeSpan.FromSeconds(seconds) : AgentWire.MaxLongPoll, stop.Token);
        return job is null ? TypedResults.NoContent() : TypedResults.Ok(job);
    }

    private static async Task<IResult> Heartbeat(HttpContext http, HeartbeatRequest request, AgentProtocol protocol)
    {
        if (request.Running is { Length: > MaxNamedAttempts })
        {
            return Problems.Field("running", $"At most {MaxNamedAttempts} attempts may be named.");
        }
        return TypedResults.Ok(await protocol.HeartbeatAsync(AgentAuthentication.Identity(http), request.Running ?? [], http.RequestAborted));
    }

    private static async Task<IResult> Log(HttpContext http, long id, long sequence, long? offset, AgentProtocol protocol, IOptions<AgentsOptions> options)
    {
        var max = options.Value.MaxLogChunkBytes;
        if (sequence < 1) return Problems.Field("sequence", "Chunk sequence numbers start at 1.");
        if (offset is null or < 0) return Problems.Field("offset", "offset (the log length the chunk starts at) is required and not negative.");
        if (http.Request.ContentLength > max) return ChunkTooLarge(max);
        // The body goes into a pooled buffer: a megabyte per chunk would otherwise be garbage on the large object heap.
        var buffer = ArrayPool<byte>.Shared.Rent(max + 1);
        try
        {
            var length = await ReadBodyAsync(http.Request, buffer, http.RequestAborted);
            if (length > max) return ChunkTooLarge(max);
            if (length == 0) return Problems.Field("body", "A log chunk holds at least one line.");
            if (buffer[length - 1] != (byte)'\n') return Problems.Field("body", "A log chunk holds whole lines: it must end with a line end.");
            var answer = await protocol.AppendLogAsync(AgentAuthentication.Identity(http), id, sequence, offset.Value, buffer.AsMemory(0, length), http.RequestAborted);
            return answer.Refusal != AttemptRefusal.None ? Refused(answer.Refusal, answer.Detail!) : Stored(answer.Value!, sequence, offset.Value, options.Value);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static IResult Stored(ChunkResult result, long sequence, long offset, AgentsOptions options) =>
        result.Outcome switch
        {
            ChunkOutcome.Stored or ChunkOutcome.Duplicate => TypedResults.Ok(new LogChunkResponse(result.Sequence, result.Length, result.Outcome == ChunkOutcome.Duplicate)),
            ChunkOutcome.OutOfOrder => ChunkProblem(StatusCodes.Status409Conflict, "out_of_order", result,
                $"Chunk {sequence} does not follow the last stored chunk ({result.Sequence}): send chunk {result.Sequence + 1} first."),
            ChunkOutcome.OffsetMismatch => ChunkProblem(StatusCodes.Status409Conflict, "offset_mismatch", result,
                $"Chunk {sequence} starts at byte {offset}, but the stored log ends at byte {result.Length}."),
            _ => ChunkProblem(StatusCodes.Status413PayloadTooLarge, "log_limit", result,
                $"The attempt's log would pass its limit of {options.MaxLogBytesPerAttempt} bytes (Agents:MaxLogBytesPerAttempt); nothing more is stored."),
        };

    private static async Task<IResult> Step(HttpContext http, long id, int index, StepUpdate update, AgentProtocol protocol)
    {
        var started = update.State == "started";
        if (!started && update.State != "finished") return Problems.Field("state", "state is 'started' or 'finished'.");
        if (update.LogOffset is null or < 0) return Problems.Field("logOffset", "logOffset (where the step's output starts or ends in the log) is required and not negative.");
        if (!started && (update.Status is not { } status || !AgentWire.FinalStatuses.Contains(status)))
        {
            return Problems.Field("status", "A finished step needs its status: " + FinalWords + ".");
        }
        var outcome = started ? null : new AttemptOutcome(update.Status!.Value, update.ExitCode);
        var answer = await protocol.UpdateStepAsync(AgentAuthentication.Identity(http), id, index, started, outcome, update.LogOffset.Value, http.RequestAborted);
        return answer.Refusal != AttemptRefusal.None ? Refused(answer.Refusal, answer.Detail!) : TypedResults.NoContent();
    }

    private static async Task<IResult> Complete(HttpContext http, long id, CompletionRequest request, AgentProtocol protocol)
    {
        if (request.Status is not { } status || !AgentWire.FinalStatuses.Contains(status))
        {
            return Problems.Field("status", "status is how the attempt ended: " + FinalWords + ".");
        }
        if (request.Reason is { Length: > MaxReasonLength }) return Problems.Field("reason", $"reason is at most {MaxReasonLength} characters.");
        if (request.Outputs is { } outputs && (outputs.Count > MaxOutputs || outputs.Sum(o => o.Key.Length + (o.Value?.Length ?? 0)) > MaxOutputBytes))
        {
            return Problems.Field("outputs", $"At most {MaxOutputs} outputs of {MaxOutputBytes} characters in all.");
        }
        if (request.LastStep is { } last && (!AgentWire.FinalStatuses.Contains(last.Status) || last.LogEnd < 0 || last.Index < 0))
        {
            return Problems.Field("lastStep", "lastStep needs an index, a final status (" + FinalWords + ") and a logEnd not negative.");
        }
        var outcome = new AttemptOutcome(status, request.ExitCode, request.Reason, request.Outputs);
        var answer = await protocol.CompleteAsync(AgentAuthentication.Identity(http), id, outcome, request.LastStep, http.RequestAborted);
        return answer.Refusal != AttemptRefusal.None ? Refused(answer.Refusal, answer.Detail!) : TypedResults.Ok(answer.Value);
    }

    private static string FinalWords => string.Join(", ", AgentWire.FinalStatuses.Select(s => s.ToWire()));

    private static ProblemHttpResult Refused(AttemptRefusal refusal, string detail) => refusal switch
    {
        AttemptRefusal.Unknown => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail),
        AttemptRefusal.NotYours => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not this agent's attempt", detail: detail),
        _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Attempt superseded", detail: detail,
            extensions: new Dictionary<string, object?> { ["reason"] = "superseded" }),
    };

    private static ProblemHttpResult ChunkProblem(int status, string reason, ChunkResult stored, string detail) =>
        TypedResults.Problem(statusCode: status, title: "Log chunk refused", detail: detail, extensions: new Dictionary<string, object?>
        {
            ["reason"] = reason,
            ["sequence"] = stored.Sequence,
            ["length"] = stored.Length,
        });

    private static ProblemHttpResult ChunkTooLarge(int max) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Log chunk too large",
            detail: $"A log chunk is at most {max} bytes (Agents:MaxLogChunkBytes).", extensions: new Dictionary<string, object?> { ["reason"] = "chunk_too_large" });

    /// <summary>Reads the body into <paramref name="buffer"/>; the length read, or more than the buffer's length less one
    /// when the body is longer (reading stops there).</summary>
    private static async Task<int> ReadBodyAsync(HttpRequest request, byte[] buffer, CancellationToken ct)
    {
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await request.Body.ReadAsync(buffer.AsMemory(length), ct)) > 0)
        {
            length += read;
        }
        return length;
    }
}
