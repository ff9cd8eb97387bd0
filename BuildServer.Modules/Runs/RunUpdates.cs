namespace BuildServer.Modules.Runs;

/// <summary>
/// An in-process signal "run N changed" (a job or attempt was queued, claimed, finished, cancelled, re-run), raised
/// after the change has committed, for what shows runs live (the run page) instead of polling the tables. It is a
/// hint, not a record: a watcher reloads what it shows from the tables, and keeps a slow periodic reload as its
/// safety net. Changes made by another server node arrive through <see cref="RunChangeListener"/> (PostgreSQL).
/// </summary>
/// <remarks>Thread-safe. <see cref="Changed"/> calls the watchers on the raiser's thread, so a watcher must only take
/// note (set a flag, write to a channel) and return; it must not throw or block.</remarks>
internal sealed class RunUpdates
{
    private readonly Dictionary<long, Action[]> _watchers = [];
    private readonly Lock _lock = new();

    /// <summary>Calls <paramref name="changed"/> after each committed change of the run, until the result is disposed.</summary>
    public IDisposable Watch(long runId, Action changed)
    {
        lock (_lock)
        {
            _watchers[runId] = _watchers.TryGetValue(runId, out var those) ? [.. those, changed] : [changed];
        }
        return new Subscription(this, runId, changed);
    }

    /// <summary>Number of runs watched now (for tests and diagnostics).</summary>
    public int WatchedRuns
    {
        get
        {
            lock (_lock) return _watchers.Count;
        }
    }

    public void Changed(long runId)
    {
        Action[]? those;
        lock (_lock)
        {
            _watchers.TryGetValue(runId, out those);
        }
        foreach (var watcher in those ?? [])
        {
            watcher();
        }
    }

    private void Unwatch(long runId, Action changed)
    {
        lock (_lock)
        {
            if (!_watchers.TryGetValue(runId, out var those)) return;
            var at = Array.FindIndex(those, w => ReferenceEquals(w, changed));
            if (at < 0) return;
            Action[] rest = [.. those[..at], .. those[(at + 1)..]];
            if (rest.Length == 0) _watchers.Remove(runId);
            else _watchers[runId] = rest;
        }
    }

    private sealed class Subscription(RunUpdates owner, long runId, Action changed) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Unwatch(runId, changed);
        }
    }
}
