namespace BuildServer.Modules.Persistence;

/// <summary>
/// Serialises write transactions inside this process when the database allows one writer at a time.
/// SQLite has one writer lock; writers that collide on it back off by sleeping (1 to 100 ms steps), which
/// costs latency and throughput under load. Queueing for an async gate first means each writer finds the
/// lock free. On PostgreSQL the gate is open (rows lock individually).
/// Use: <c>await using (await gate.EnterAsync(ct)) { …one write transaction… }</c>. Not re-entrant.
/// </summary>
public sealed class WriteGate
{
    private readonly SemaphoreSlim? _gate;

    public WriteGate(DatabaseOptions options) =>
        _gate = options.Provider == DatabaseProvider.Sqlite ? new SemaphoreSlim(1, 1) : null;

    public async ValueTask<IAsyncDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        if (_gate is null)
        {
            return Open.Instance;
        }
        await _gate.WaitAsync(cancellationToken);
        return new Release(_gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IAsyncDisposable
    {
        private int _released;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Open : IAsyncDisposable
    {
        public static readonly Open Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
