using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Agents.Worker;

/// <summary>The built-in agent's transport: the same protocol calls as over HTTPS, made directly on
/// <see cref="AgentProtocol"/> in a scope of their own, and cancels pushed the moment they happen.</summary>
internal sealed class InProcessTransport(IServiceScopeFactory scopes, IAttemptCancellation cancellation, AgentIdentity agent) : IAgentTransport
{
    public Task<AgentJob?> AcquireAsync(TimeSpan wait, CancellationToken ct) =>
        InScope(p => p.AcquireAsync(agent, wait, ct));

    public Task<HeartbeatResponse> HeartbeatAsync(IReadOnlyCollection<long> running, int freeSlots, CancellationToken ct) =>
        InScope(p => p.HeartbeatAsync(agent, running, ct));

    public Task<LogChunkResponse> SendLogAsync(long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, CancellationToken ct) =>
        InScope(async p =>
        {
            var result = Accepted(await p.AppendLogAsync(agent, attemptId, sequence, offset, chunk, ct));
            return result.Outcome switch
            {
                ChunkOutcome.Stored or ChunkOutcome.Duplicate => new LogChunkResponse(result.Sequence, result.Length, result.Outcome == ChunkOutcome.Duplicate),
                ChunkOutcome.OutOfOrder => throw new AgentCallRefusedException(409, "out_of_order", "out of order", result.Sequence, result.Length),
                ChunkOutcome.OffsetMismatch => throw new AgentCallRefusedException(409, "offset_mismatch", "offset mismatch", result.Sequence, result.Length),
                _ => throw new AgentCallRefusedException(413, "log_limit", "the attempt's log reached its limit", result.Sequence, result.Length),
            };
        });

    public Task UpdateStepAsync(long attemptId, int index, StepUpdate update, CancellationToken ct) =>
        InScope(async p =>
        {
            var started = update.State == "started";
            var outcome = started ? null : new AttemptOutcome(update.Status!.Value, update.ExitCode);
            return Accepted(await p.UpdateStepAsync(agent, attemptId, index, started, outcome, update.LogOffset ?? 0, ct));
        });

    public Task<CompletionResponse> CompleteAsync(long attemptId, CompletionRequest completion, CancellationToken ct) =>
        InScope(async p => Accepted(await p.CompleteAsync(agent, attemptId,
            new AttemptOutcome(completion.Status!.Value, completion.ExitCode, completion.Reason, completion.Outputs), completion.LastStep, ct)));

    public async Task<CancellationToken> WatchCancelAsync(long attemptId, CancellationToken ct)
    {
        var token = cancellation.Watch(attemptId);
        // A cancel that landed between the claim and Watch() found no one to tell: ask once.
        await using var scope = scopes.CreateAsyncScope();
        if (await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().IsCancelRequestedAsync(attemptId, ct))
        {
            cancellation.Cancel(attemptId);
        }
        return token;
    }

    public void ReleaseWatch(long attemptId) => cancellation.Release(attemptId);

    private static T Accepted<T>(Answer<T> answer) => answer.Refusal switch
    {
        AttemptRefusal.None => answer.Value!,
        AttemptRefusal.Unknown => throw new AgentCallRefusedException(404, null, answer.Detail!),
        AttemptRefusal.NotYours => throw new AgentCallRefusedException(403, null, answer.Detail!),
        _ => throw new AgentCallRefusedException(409, "superseded", answer.Detail!),
    };

    private async Task<T> InScope<T>(Func<AgentProtocol, Task<T>> call)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await call(scope.ServiceProvider.GetRequiredService<AgentProtocol>());
    }
}
