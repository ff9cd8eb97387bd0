using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Scheduling;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents.Protocol;

/// <summary>An authenticated agent, as the protocol needs it (read with its token, once per request).</summary>
internal sealed record AgentIdentity(long Id, string Name, IReadOnlySet<string> Labels, long? OrgId, bool Draining)
{
    public RunnerRef Runner => new(Id, Name, Labels, OrgId);
}

/// <summary>Why the server refused an agent's report about an attempt.</summary>
internal enum AttemptRefusal
{
    None,
    /// <summary>No such attempt (or step).</summary>
    Unknown,
    /// <summary>Another agent's attempt.</summary>
    NotYours,
    /// <summary>It finished meanwhile (declared lost and retried, timed out, cancelled): the report is discarded.</summary>
    Superseded,
}

/// <summary>The outcome of a protocol call that concerns one attempt: a value, or why it was refused (with a sentence).</summary>
internal readonly record struct Answer<T>(T? Value, AttemptRefusal Refusal = AttemptRefusal.None, string? Detail = null)
{
    public static Answer<T> Refused(AttemptRefusal refusal, string detail) => new(default, refusal, detail);
}

/// <summary>
/// The server side of the agent protocol (docs/agents.md), called by the HTTPS endpoints for remote agents and
/// directly by the built-in agent's in-process transport: one way work reaches every agent. Acquire long-polls on
/// the dispatch signal; heartbeats renew the leases of the attempts the agent names; log chunks, step updates and
/// completions are idempotent and reach only the agent's own attempts.
/// </summary>
internal sealed class AgentProtocol(
    IAttemptLifecycle lifecycle,
    IRunnerAttempts attempts,
    HeartbeatWrites heartbeats,
    IDispatchSignal dispatch,
    ILogStore logs,
    TimeProvider time,
    IOptions<AgentsOptions> options,
    ILogger<AgentProtocol> logger)
{
    /// <summary>Claims work for the agent, waiting up to <paramref name="wait"/> for some to be queued; null when
    /// none came (or the agent drains). Woken by the dispatch signal, so there is no polling interval.</summary>
    public async Task<AgentJob?> AcquireAsync(AgentIdentity agent, TimeSpan wait, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + wait;
        if (agent.Draining)
        {
            await Waits.QuietlyAsync(Task.Delay(wait, time, ct));
            return null;
        }
        while (true)
        {
            var pulse = dispatch.NextPulse; // taken before looking, so work queued meanwhile still wakes us
            if (await lifecycle.TryClaimAsync(agent.Runner, ct) is { } claim)
            {
                return AgentJobs.From(claim, claim.LeaseExpiresAt, claim.TimeoutAt);
            }
            var left = deadline - time.GetUtcNow();
            if (left <= TimeSpan.Zero || ct.IsCancellationRequested) return null;
            if (!await Waits.QuietlyAsync(pulse.WaitAsync(left, time, ct))) return null;
        }
    }

    /// <summary>The agent is alive: its <c>LastSeenAt</c> and the leases of the attempts it names (those still its own and
    /// running) are renewed, written in a batch within <see cref="HeartbeatWrites.Every"/>. The answer lists those of them
    /// someone asked to cancel, those no longer its own, and whether it should drain.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(AgentIdentity agent, IReadOnlyCollection<long> running, CancellationToken ct)
    {
        var named = running.Distinct().Take(1024).ToList();
        var mine = await attempts.RunningAsync(agent.Id, named, ct);
        heartbeats.Record(agent.Id, mine.Select(a => a.AttemptId));
        var abandon = named.Except(mine.Select(a => a.AttemptId)).ToArray();
        if (abandon.Length > 0)
        {
            logger.LogInformation("Agent {Agent} still runs attempt(s) {Attempts} that are no longer its own; it is told to abandon them",
                agent.Name, string.Join(", ", abandon));
        }
        return new HeartbeatResponse([.. mine.Where(a => a.CancelRequested).Select(a => a.AttemptId)], abandon, agent.Draining, options.Value.Heartbeat.TotalSeconds);
    }

    public async Task<Answer<ChunkResult>> AppendLogAsync(AgentIdentity agent, long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, CancellationToken ct)
    {
        var (attempt, refusal) = await OwnRunningAsync(agent, attemptId, null, ct);
        if (refusal is { } r) return Answer<ChunkResult>.Refused(r.Refusal, r.Detail!);
        var result = await logs.AppendChunkAsync(attempt!.RunId, attemptId, sequence, offset, chunk, options.Value.MaxLogBytesPerAttempt, ct);
        if (result.Outcome is not (ChunkOutcome.Stored or ChunkOutcome.Duplicate))
        {
            logger.LogWarning("Log chunk {Sequence} at {Offset} of attempt {AttemptId} from agent {Agent} refused: {Outcome} (stored: sequence {Stored}, {Length} bytes)",
                sequence, offset, attemptId, agent.Name, result.Outcome, result.Sequence, result.Length);
        }
        return new Answer<ChunkResult>(result);
    }

    public async Task<Answer<bool>> UpdateStepAsync(AgentIdentity agent, long attemptId, int index, bool started, AttemptOutcome? outcome, long logOffset, CancellationToken ct)
    {
        var (attempt, refusal) = await OwnRunningAsync(agent, attemptId, index, ct);
        if (refusal is { } r) return Answer<bool>.Refused(r.Refusal, r.Detail!);
        var stepId = attempt!.StepId;
        if (stepId is null) return Answer<bool>.Refused(AttemptRefusal.Unknown, $"Attempt {attemptId} has no step {index}.");
        if (started) await lifecycle.StartStepAsync(stepId.Value, logOffset, ct);
        else await lifecycle.FinishStepAsync(stepId.Value, outcome!, logOffset, ct);
        return new Answer<bool>(true);
    }

    /// <summary>Finishes the attempt with the agent's result. A re-send of a result already applied is acknowledged
    /// (<see cref="CompletionResponse.Duplicate"/>); a result for an attempt finished otherwise (declared lost and
    /// retried, timed out by the server) is refused as superseded.</summary>
    public async Task<Answer<CompletionResponse>> CompleteAsync(AgentIdentity agent, long attemptId, AttemptOutcome outcome, StepEnd? lastStep, CancellationToken ct)
    {
        var attempt = await attempts.FindAsync(attemptId, lastStep?.Index, ct);
        if (attempt is null) return Answer<CompletionResponse>.Refused(AttemptRefusal.Unknown, $"Attempt {attemptId} does not exist.");
        if (attempt.RunnerId != agent.Id) return NotYours<CompletionResponse>(agent, attemptId);
        StepReport? last = null;
        if (lastStep is not null)
        {
            var stepId = attempt.StepId;
            if (stepId is null) return Answer<CompletionResponse>.Refused(AttemptRefusal.Unknown, $"Attempt {attemptId} has no step {lastStep.Index}.");
            last = new StepReport(stepId.Value, new AttemptOutcome(lastStep.Status, lastStep.ExitCode), lastStep.LogEnd);
        }
        if (await lifecycle.CompleteAttemptAsync(attemptId, outcome, last, ct))
        {
            return new Answer<CompletionResponse>(new CompletionResponse(attemptId, outcome.Status, Duplicate: false));
        }
        // Not applied: this very result once before (its answer was lost), or the attempt ended otherwise.
        var actor = "runner:" + agent.Id;
        var end = await attempts.LastTransitionAsync(attemptId, ct);
        if (end is not null && end.Actor == actor && end.To == outcome.Status)
        {
            return new Answer<CompletionResponse>(new CompletionResponse(attemptId, outcome.Status, Duplicate: true));
        }
        var detail = Superseded(attemptId, end?.To, end?.Reason);
        logger.LogWarning("Result {Status} of attempt {AttemptId} from agent {Agent} refused: {Detail}", outcome.Status.ToWire(), attemptId, agent.Name, detail);
        return Answer<CompletionResponse>.Refused(AttemptRefusal.Superseded, detail);
    }

    /// <summary>The attempt (with the id of its step <paramref name="stepIndex"/>, if asked), if it is this agent's and
    /// still running; else why not. One read.</summary>
    private async Task<(AttemptHolder? Attempt, (AttemptRefusal Refusal, string? Detail)? Refusal)> OwnRunningAsync(
        AgentIdentity agent, long attemptId, int? stepIndex, CancellationToken ct)
    {
        var attempt = await attempts.FindAsync(attemptId, stepIndex, ct);
        if (attempt is null) return (null, (AttemptRefusal.Unknown, $"Attempt {attemptId} does not exist."));
        if (attempt.RunnerId != agent.Id)
        {
            var refused = NotYours<bool>(agent, attemptId);
            return (null, (refused.Refusal, refused.Detail));
        }
        if (attempt.Status.IsFinished())
        {
            var detail = Superseded(attemptId, attempt.Status, attempt.FailureReason);
            logger.LogWarning("A report of agent {Agent} on attempt {AttemptId} refused: {Detail}", agent.Name, attemptId, detail);
            return (null, (AttemptRefusal.Superseded, detail));
        }
        return (attempt, null);
    }

    private Answer<T> NotYours<T>(AgentIdentity agent, long attemptId)
    {
        logger.LogWarning("Agent {Agent} reported on attempt {AttemptId}, which is not its own: refused", agent.Name, attemptId);
        return Answer<T>.Refused(AttemptRefusal.NotYours, $"Attempt {attemptId} is not assigned to this agent.");
    }

    private static string Superseded(long attemptId, Status? status, string? reason) =>
        $"Attempt {attemptId} has already ended ({status?.ToWire() ?? "unknown"}{(reason is null ? "" : ": " + reason)}); " +
        "this report is discarded (a lost attempt is retried as a new attempt).";

}
