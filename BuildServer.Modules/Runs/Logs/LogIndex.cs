using System.Buffers;

namespace BuildServer.Modules.Runs.Logs;

/// <summary>
/// Where the lines of one attempt's log start, so a log view can number lines and jump to any of them without reading
/// the log from its beginning: the offset of every <see cref="Stride"/>-th line, the number of complete lines, and the
/// lines that open or close a <c>::group::</c>. The first request scans the log once (a 100 MB log in a few hundred
/// milliseconds); each later one scans only what was appended since, so a live log is indexed as it grows. Indexes are
/// kept in memory by <see cref="LogIndexes"/> (about 32 KB per 100 MB of log), never on disk: a restarted server scans
/// again when a log is first opened. Only complete lines count: a line still being written is indexed once it ends.
/// Thread-safe: one scan at a time, readers take a <see cref="LogIndexSnapshot"/> that never changes.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001",
    Justification = "The scan lock is a SemaphoreSlim whose wait handle is never asked for: it holds nothing to release, and an evicted index is simply collected.")]
internal sealed class LogIndex(ILogStore store, long runId, long attemptId)
{
    public const int Stride = 256;

    /// <summary>Past this many group markers, later groups are not folded (and not numbered in the outline).</summary>
    public const int MaxMarkers = 100_000;

    private const int Block = 1 << 20;
    private const int MaxMemo = 4096;

    private readonly SemaphoreSlim _scan = new(1, 1);
    private readonly Dictionary<long, long> _linesBefore = [];
    private long[] _entries = [0];
    private int _entryCount = 1;
    private GroupMarker[] _markers = [];
    private int _markerCount;
    private bool _markersCapped;
    private LogIndexSnapshot _current = new(0, 0, [0], 1, [], 0, false);

    public long RunId => runId;

    public long AttemptId => attemptId;

    /// <summary>For <see cref="LogIndexes"/>' eviction: when it was last asked for.</summary>
    internal long LastUsed;

    public LogIndexSnapshot Current => Volatile.Read(ref _current);

    private LogRange Whole => new(runId, attemptId);

    /// <summary>Indexes what was appended since the last call and returns the index up to there.</summary>
    public async Task<LogIndexSnapshot> ExtendAsync(CancellationToken ct)
    {
        await _scan.WaitAsync(ct);
        try
        {
            await using var log = store.OpenRead(Whole);
            if (log is null) return Current;
            if (log.Length < Current.Length) Reset(); // the log was cut back (a crash repair before an agent's re-send)
            if (log.Length > Current.Length) await ScanAsync(log, ct);
            return Current;
        }
        finally
        {
            _scan.Release();
        }
    }

    /// <summary>How many lines end before <paramref name="offset"/> (clamped to the indexed length): the line starting
    /// there is that plus one. Reads at most <see cref="Stride"/> lines; answers are remembered.</summary>
    public async Task<long> LinesBeforeAsync(long offset, CancellationToken ct)
    {
        var snapshot = Current;
        offset = Math.Clamp(offset, 0, snapshot.Length);
        if (offset == snapshot.Length) return snapshot.Lines;
        lock (_linesBefore)
        {
            if (_linesBefore.TryGetValue(offset, out var known)) return known;
        }
        var (line, at) = snapshot.EntryAtOrBefore(offset);
        var lines = line - 1 + await CountNewlinesAsync(at, offset, ct);
        lock (_linesBefore)
        {
            if (_linesBefore.Count >= MaxMemo) _linesBefore.Clear();
            _linesBefore[offset] = lines;
        }
        return lines;
    }

    /// <summary>Where line <paramref name="number"/> (1-based, at most the indexed lines) starts.</summary>
    public async Task<long> OffsetOfLineAsync(long number, CancellationToken ct)
    {
        var snapshot = Current;
        number = Math.Clamp(number, 1, Math.Max(1, snapshot.Lines));
        var (line, at) = snapshot.EntryForLine(number);
        var skip = number - line;
        if (skip == 0) return at;
        await using var log = store.OpenRead(Whole with { End = snapshot.Length });
        if (log is null) return 0;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            log.Position = at;
            int read;
            while ((read = await log.ReadAsync(buffer, ct)) > 0)
            {
                var span = buffer.AsSpan(0, read);
                var i = 0;
                int newline;
                while ((newline = span[i..].IndexOf((byte)'\n')) >= 0)
                {
                    i += newline + 1;
                    if (--skip == 0) return log.Position - read + i;
                }
            }
            return snapshot.Length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<long> CountNewlinesAsync(long from, long to, CancellationToken ct)
    {
        if (to <= from) return 0;
        await using var log = store.OpenRead(Whole with { End = to });
        if (log is null) return 0;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            log.Position = from;
            long count = 0;
            int read;
            while ((read = await log.ReadAsync(buffer, ct)) > 0) count += buffer.AsSpan(0, read).Count((byte)'\n');
            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Reset()
    {
        _entries = [0];
        _entryCount = 1;
        _markers = [];
        _markerCount = 0;
        _markersCapped = false;
        lock (_linesBefore) _linesBefore.Clear();
        Volatile.Write(ref _current, new LogIndexSnapshot(0, 0, _entries, 1, _markers, 0, false));
    }

    /// <summary>From the indexed length (a line start) on, in blocks: counts the lines, notes every Stride-th line's
    /// start and the group markers. A line longer than a block is judged by its beginning.</summary>
    private async Task ScanAsync(Stream log, CancellationToken ct)
    {
        var start = Current;
        var buffer = ArrayPool<byte>.Shared.Rent(Block);
        try
        {
            long position = start.Length, indexed = start.Length, lines = start.Lines;
            var inLongLine = false;
            while (true)
            {
                log.Position = position;
                var read = await log.ReadAtLeastAsync(buffer.AsMemory(0, Block), Block, throwOnEndOfStream: false, ct);
                if (read == 0) break;
                var span = buffer.AsSpan(0, read);
                var i = 0;
                int newline;
                while ((newline = span[i..].IndexOf((byte)'\n')) >= 0)
                {
                    if (!inLongLine) AddMarker(LogLineFormat.Marker(span.Slice(i, newline)), lines + 1);
                    inLongLine = false;
                    lines++;
                    i += newline + 1;
                    if (lines % Stride == 0) AddEntry(position + i);
                }
                if (i == 0 && read == Block)
                {
                    if (!inLongLine) AddMarker(LogLineFormat.Marker(span), lines + 1);
                    inLongLine = true;
                    position += read;
                    continue;
                }
                if (i > 0) indexed = position + i;
                if (read < Block) break;
                position = indexed;
            }
            Volatile.Write(ref _current, new LogIndexSnapshot(indexed, lines, _entries, _entryCount, _markers, _markerCount, _markersCapped));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Arrays only grow by copying: a snapshot keeps the array it was given, whose first Count items never change.
    private void AddEntry(long offset)
    {
        if (_entryCount == _entries.Length) Array.Resize(ref _entries, _entries.Length * 2);
        _entries[_entryCount++] = offset;
    }

    private void AddMarker(GroupMarkerKind kind, long line)
    {
        if (kind == GroupMarkerKind.None) return;
        if (_markerCount == MaxMarkers)
        {
            _markersCapped = true;
            return;
        }
        if (_markerCount == _markers.Length) Array.Resize(ref _markers, Math.Max(16, _markers.Length * 2));
        _markers[_markerCount++] = new GroupMarker(line, kind);
    }
}

/// <summary>An index as far as one scan got: <see cref="Length"/> bytes holding <see cref="Lines"/> complete lines.</summary>
internal sealed class LogIndexSnapshot(long length, long lines, long[] entries, int entryCount, GroupMarker[] markers, int markerCount, bool markersCapped)
{
    public long Length => length;

    public long Lines => lines;

    /// <summary>The group markers in line order (at most <see cref="LogIndex.MaxMarkers"/>).</summary>
    public ReadOnlySpan<GroupMarker> Markers => markers.AsSpan(0, markerCount);

    public bool MarkersCapped => markersCapped;

    /// <summary>The indexed line nearest to line <paramref name="number"/> at or before it: its number and offset.</summary>
    public (long Line, long Offset) EntryForLine(long number)
    {
        var k = (int)Math.Min((Math.Max(number, 1) - 1) / LogIndex.Stride, entryCount - 1);
        return (k * (long)LogIndex.Stride + 1, entries[k]);
    }

    /// <summary>The indexed line starting at or before <paramref name="offset"/>: its number and offset.</summary>
    public (long Line, long Offset) EntryAtOrBefore(long offset)
    {
        var k = entries.AsSpan(0, entryCount).BinarySearch(offset);
        if (k < 0) k = ~k - 1;
        k = Math.Max(k, 0);
        return (k * (long)LogIndex.Stride + 1, entries[k]);
    }
}
