using System.Collections.Concurrent;

namespace BuildServer.Modules.Runs.Logs;

/// <summary>The line indexes of the logs being viewed, shared by every viewer of a log (fifty views of one 100 MB log
/// scan it once). Keeps the <see cref="Capacity"/> most recently asked for; an evicted one is scanned again if asked for.</summary>
internal sealed class LogIndexes(ILogStore store, TimeProvider time)
{
    public const int Capacity = 256;

    private readonly ConcurrentDictionary<long, LogIndex> _indexes = new();

    public LogIndex For(long runId, long attemptId)
    {
        var index = _indexes.GetOrAdd(attemptId, _ => new LogIndex(store, runId, attemptId));
        Volatile.Write(ref index.LastUsed, time.GetTimestamp());
        if (_indexes.Count > Capacity) EvictOldest(index);
        return index;
    }

    private void EvictOldest(LogIndex keep)
    {
        var oldest = _indexes.Values.Where(i => i != keep).MinBy(i => Volatile.Read(ref i.LastUsed));
        if (oldest is not null) _indexes.TryRemove(new KeyValuePair<long, LogIndex>(oldest.AttemptId, oldest));
    }
}
