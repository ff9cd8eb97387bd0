using BuildServer.Modules.Agents.Protocol;

namespace BuildServer.Modules.Agents.Worker;

/// <summary>
/// How an agent talks to the server: HTTPS for a remote agent (<see cref="HttpAgentTransport"/>), direct calls for
/// the built-in one (<see cref="InProcessTransport"/>). Both carry the same protocol (docs/agents.md), so the
/// agent's loop is one. A call the server refuses throws <see cref="AgentCallRefusedException"/>; a server that
/// cannot be reached (or fails) throws <see cref="ServerUnavailableException"/>, and the agent retries later.
/// </summary>
internal interface IAgentTransport
{
    /// <summary>The next job for this agent, waiting up to <paramref name="wait"/>; null when none came.</summary>
    Task<AgentJob?> AcquireAsync(TimeSpan wait, CancellationToken cancellationToken);

    Task<HeartbeatResponse> HeartbeatAsync(IReadOnlyCollection<long> running, int freeSlots, CancellationToken cancellationToken);

    Task<LogChunkResponse> SendLogAsync(long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken);

    Task UpdateStepAsync(long attemptId, int index, StepUpdate update, CancellationToken cancellationToken);

    Task<CompletionResponse> CompleteAsync(long attemptId, CompletionRequest completion, CancellationToken cancellationToken);

    /// <summary>A token cancelled the moment someone cancels the attempt (already cancelled if someone did before),
    /// where the transport can push that (in-process); <see cref="CancellationToken.None"/> where cancels come with
    /// heartbeats only.</summary>
    Task<CancellationToken> WatchCancelAsync(long attemptId, CancellationToken cancellationToken);

    void ReleaseWatch(long attemptId);
}

/// <summary>The server answered, and refused (a 4xx with a problem document).</summary>
/// <param name="Reason">The problem's <c>reason</c> (<c>superseded</c>, <c>out_of_order</c>, <c>offset_mismatch</c>, <c>log_limit</c>...), if any.</param>
internal sealed class AgentCallRefusedException(int status, string? reason, string detail, long? sequence = null, long? length = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string? Reason { get; } = reason;
    public long? Sequence { get; } = sequence;
    public long? Length { get; } = length;

    /// <summary>The attempt is no longer this agent's to report on: whatever is left of it is discarded.</summary>
    public bool AttemptGone => Status is 403 or 404 || Reason == "superseded";
}

/// <summary>The server could not be reached, timed out, or failed (5xx): try again later.</summary>
internal sealed class ServerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
