using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Runs;

namespace BuildServer.Modules.Agents.Protocol;

/// <summary>The agent protocol's constants, shared by the server's endpoints and the agent's client. See docs/agents.md.</summary>
public static class AgentWire
{
    /// <summary>The protocol version this build speaks; an agent sends it in <see cref="ProtocolHeader"/> on every call.</summary>
    public const int ProtocolVersion = BuildInfo.AgentProtocol;

    public const string ProtocolHeader = "BuildServer-Agent-Protocol";

    /// <summary>The longest an acquire is held before it answers 204 (the agent asks for at most this).</summary>
    public static readonly TimeSpan MaxLongPoll = TimeSpan.FromSeconds(30);

    /// <summary>The largest log chunk the agent sends; the server's cap (<c>Agents:MaxLogChunkBytes</c>) is at least this by default.</summary>
    public const int ChunkBytes = 1024 * 1024;

    /// <summary>The attempt statuses an agent may report as an attempt's end.</summary>
    public static readonly IReadOnlySet<Status> FinalStatuses =
        new HashSet<Status> { Status.Succeeded, Status.Failed, Status.Cancelled, Status.TimedOut, Status.Lost, Status.Skipped };

    /// <summary>This build's version (the server's and the agent's are the same binary's).</summary>
    public static string Version => BuildInfo.Version;
}

/// <param name="Wait">Seconds to hold the call when no work is there (0–30; default 30).</param>
public sealed record AcquireRequest(int? Wait);

/// <summary>What an agent runs: one attempt of one job, with everything it needs (the job's spec fixed at
/// expansion, what its expressions see, secrets for this attempt only) and its lease.</summary>
/// <param name="Steps">How many steps the job has; step updates name a step by its index.</param>
/// <param name="LeaseExpiresAt">The lease ends here unless heartbeats extend it; then the attempt is declared lost.</param>
/// <param name="TimeoutAt">When the server counts the attempt as timed out (the claim plus the job's timeout). The agent's
/// runtime enforces <c>timeout-minutes</c> itself from the moment it starts the job, a few milliseconds later; the server
/// marks the attempt <c>timed_out</c> only if no result came by this time plus <c>Runs:TimeoutGrace</c>.</param>
public sealed record AgentJob(
    long AttemptId,
    int Number,
    long JobId,
    string JobKey,
    long RunId,
    long RunNumber,
    string Project,
    string? Ref,
    string? Sha,
    JobSpec Spec,
    JobContext Context,
    int Steps,
    DateTimeOffset LeaseExpiresAt,
    DateTimeOffset? TimeoutAt);

/// <param name="Running">The attempts the agent runs (or has results of that it has not delivered yet).</param>
public sealed record HeartbeatRequest(long[]? Running, int? FreeSlots);

/// <param name="Cancel">Attempts someone asked to stop: the agent cancels them (always() steps still run) and reports <c>cancelled</c>.</param>
/// <param name="Abandon">Attempts that are no longer this agent's to run (declared lost and retried elsewhere, finished, or
/// deleted): the agent stops them at once and discards their results.</param>
/// <param name="Drain">Take no new work; finish what runs.</param>
/// <param name="HeartbeatSeconds">When to send the next heartbeat.</param>
public sealed record HeartbeatResponse(long[] Cancel, long[] Abandon, bool Drain, double HeartbeatSeconds);

/// <param name="Sequence">The highest chunk sequence number stored for the attempt.</param>
/// <param name="Length">The stored log's length in bytes (the offset the next chunk starts at).</param>
/// <param name="Duplicate">The chunk had been stored already (a re-send); nothing was written.</param>
public sealed record LogChunkResponse(long Sequence, long Length, bool Duplicate);

/// <param name="State"><c>started</c> or <c>finished</c>.</param>
/// <param name="LogOffset">Where the step's output starts (started) or ends (finished) in the attempt's log.</param>
/// <param name="Status">How the step ended (finished only).</param>
public sealed record StepUpdate(string? State, long? LogOffset, Status? Status, int? ExitCode);

/// <param name="Index">The step's index (0-based).</param>
public sealed record StepEnd(int Index, Status Status, int? ExitCode, long LogEnd);

/// <param name="LastStep">The step that ended last, when its end was not sent as a step update.</param>
public sealed record CompletionRequest(Status? Status, int? ExitCode, string? Reason, Dictionary<string, string>? Outputs, StepEnd? LastStep);

/// <param name="Duplicate">This completion had been applied already (a re-send); nothing changed.</param>
public sealed record CompletionResponse(long AttemptId, Status Status, bool Duplicate);

internal static class AgentJobs
{
    public static AgentJob From(ClaimedAttempt claim, DateTimeOffset leaseExpiresAt, DateTimeOffset? timeoutAt) =>
        new(claim.AttemptId, claim.Number, claim.JobId, claim.JobKey, claim.RunId, claim.RunNumber, claim.Project,
            claim.Ref, claim.Sha, claim.Spec, claim.Context, claim.StepIds.Count, leaseExpiresAt, timeoutAt);
}
