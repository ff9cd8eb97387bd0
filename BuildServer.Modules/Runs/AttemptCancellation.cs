using System.Collections.Concurrent;

namespace BuildServer.Modules.Runs;

/// <summary>In-process registry; thread-safe. Remote agents will learn of cancellations through heartbeats.</summary>
internal sealed class AttemptCancellation : IAttemptCancellation
{
    private readonly ConcurrentDictionary<long, CancellationTokenSource> _watched = new();

    public CancellationToken Watch(long attemptId) => _watched.GetOrAdd(attemptId, _ => new CancellationTokenSource()).Token;

    public void Release(long attemptId)
    {
        if (_watched.TryRemove(attemptId, out var cts))
        {
            cts.Dispose();
        }
    }

    public void Cancel(long attemptId)
    {
        if (_watched.TryGetValue(attemptId, out var cts))
        {
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The attempt ended between the lookup and the cancel: nothing left to stop.
            }
        }
    }
}
