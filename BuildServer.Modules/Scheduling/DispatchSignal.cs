namespace BuildServer.Modules.Scheduling;

/// <summary>
/// Wakes idle agent slots the moment work becomes ready, so that no polling interval sits in the pickup
/// path. Thread-safe. Use: take <see cref="NextPulse"/> <em>before</em> looking for work, then await it
/// only if none was found; a pulse raised in between is never missed.
/// </summary>
public interface IDispatchSignal
{
    Task NextPulse { get; }

    /// <summary>Wakes every waiter of the current pulse.</summary>
    void Notify();
}

internal sealed class DispatchSignal : IDispatchSignal
{
    private TaskCompletionSource _pulse = NewPulse();

    public Task NextPulse => Volatile.Read(ref _pulse).Task;

    public void Notify() => Interlocked.Exchange(ref _pulse, NewPulse()).TrySetResult();

    private static TaskCompletionSource NewPulse() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
