using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace BuildServer.Modules.Runs.Logs;

/// <summary>
/// Tells whoever watches an attempt's log that it grew, so a log view shows new lines at once instead of polling.
/// Raised by <see cref="FileLogStore"/> after a chunk is stored (the agent protocol's path, taken by the built-in agent
/// through its in-process transport and by remote agents over HTTPS) and after a direct writer
/// (<see cref="ILogStore.OpenWriter"/>) flushed. The signal carries only the new length; watchers read the bytes through
/// the store. In-process only: a viewer on another node than the one storing the chunks sees them at its own re-check.
/// Thread-safe; callbacks run on the appender's thread and must only hand the work off (they must not block).
/// </summary>
internal sealed class LogGrowth
{
    private readonly ConcurrentDictionary<long, ImmutableArray<Action<long>>> _watchers = new();

    /// <summary>Calls <paramref name="grew"/> with the log's new length each time the attempt's log grows, until disposed.</summary>
    public IDisposable Watch(long attemptId, Action<long> grew)
    {
        _watchers.AddOrUpdate(attemptId, _ => [grew], (_, list) => list.Add(grew));
        return new Watcher(this, attemptId, grew);
    }

    public void Grew(long attemptId, long length)
    {
        if (!_watchers.TryGetValue(attemptId, out var watchers)) return;
        foreach (var watcher in watchers)
        {
            try
            {
                watcher(length);
            }
#pragma warning disable CA1031 // a watcher's failure (a closed page) must never fail the append that raised the signal
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>How many watch the attempt's log (for tests).</summary>
    public int WatcherCount(long attemptId) => _watchers.TryGetValue(attemptId, out var list) ? list.Length : 0;

    private void Unwatch(long attemptId, Action<long> grew)
    {
        while (_watchers.TryGetValue(attemptId, out var list))
        {
            var rest = list.Remove(grew);
            if (rest.IsEmpty
                    ? _watchers.TryRemove(new KeyValuePair<long, ImmutableArray<Action<long>>>(attemptId, list))
                    : _watchers.TryUpdate(attemptId, rest, list))
            {
                return;
            }
        }
    }

    private sealed class Watcher(LogGrowth owner, long attemptId, Action<long> grew) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Unwatch(attemptId, grew);
        }
    }
}
