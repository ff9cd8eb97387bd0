using System.Buffers;
using System.Globalization;
using System.Text;
using BuildServer.Modules.Hosting;

namespace BuildServer.Modules.Runs.Logs;

/// <summary>Logs as files under <c>data/logs/&lt;run&gt;/&lt;attempt&gt;.log</c>. See docs/adr/0003-log-storage.md.
/// Every append that makes lines visible raises <see cref="LogGrowth"/> for the attempt.</summary>
internal sealed class FileLogStore(DataDirectory data, LogGrowth growth) : ILogStore
{
    private const int MaxLimit = 16 * 1024 * 1024;
    private const int TailBlock = 64 * 1024;

    private string PathOf(long runId, long attemptId) => Path.Combine(data.Root, "logs", runId.ToString(), attemptId + ".log");

    // Chunk appends of one attempt are serialised; attempts share 64 locks (no per-attempt state to clean up).
    private readonly SemaphoreSlim[] _chunkLocks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<ChunkResult> AppendChunkAsync(long runId, long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, long maxLength, CancellationToken ct)
    {
        var path = PathOf(runId, attemptId);
        var gate = _chunkLocks[(int)(attemptId & 63)];
        await gate.WaitAsync(ct);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // "<log>.seq" holds the last stored sequence number and the log length it vouches for, written after the log.
            await using var state = new FileStream(path + ".seq", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1);
            var stored = new byte[16];
            var (lastSequence, length) = state.Length >= 16 && state.Read(stored) == 16
                ? (BitConverter.ToInt64(stored, 0), BitConverter.ToInt64(stored, 8))
                : (0L, 0L);
            // After a power loss the sequence may vouch for bytes the log never got to disk: the log's own length wins,
            // and the agent, told the real length, re-sends from there.
            length = Math.Min(length, File.Exists(path) ? new FileInfo(path).Length : 0);
            if (sequence <= lastSequence) return new ChunkResult(ChunkOutcome.Duplicate, lastSequence, length);
            if (sequence != lastSequence + 1) return new ChunkResult(ChunkOutcome.OutOfOrder, lastSequence, length);
            if (offset != length) return new ChunkResult(ChunkOutcome.OffsetMismatch, lastSequence, length);
            if (length + chunk.Length > maxLength) return new ChunkResult(ChunkOutcome.TooLarge, lastSequence, length);
            await using (var log = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous))
            {
                if (log.Length > length) log.SetLength(length); // bytes of a chunk whose sequence was never stored
                log.Position = length;
                await log.WriteAsync(chunk, ct);
            }
            BitConverter.TryWriteBytes(stored.AsSpan(0, 8), sequence);
            BitConverter.TryWriteBytes(stored.AsSpan(8, 8), length + chunk.Length);
            state.Position = 0;
            state.Write(stored);
            growth.Grew(attemptId, length + chunk.Length);
            return new ChunkResult(ChunkOutcome.Stored, sequence, length + chunk.Length);
        }
        finally
        {
            gate.Release();
        }
    }

    public ILogWriter OpenWriter(long runId, long attemptId) => OpenWriterAt(PathOf(runId, attemptId), length => growth.Grew(attemptId, length));

    /// <summary>A writer of this store's line format appending to any file (an agent's outbox keeps its logs so).</summary>
    /// <param name="flushed">Called with the file's length after each flush that wrote something.</param>
    internal static ILogWriter OpenWriterAt(string path, Action<long>? flushed = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new FileLogWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.None), flushed);
    }

    public Stream? OpenRead(LogRange range)
    {
        var file = OpenFile(range.RunId, range.AttemptId);
        if (file is null) return null;
        var (start, end) = Bounds(range, file);
        return new LogRangeStream(file, start, end - start);
    }

    public async Task<LogSlice> ReadAsync(LogRange range, long offset, int limit, CancellationToken ct)
    {
        await using var file = OpenFile(range.RunId, range.AttemptId);
        if (file is null)
        {
            return new LogSlice(ReadOnlyMemory<byte>.Empty, 0, 0, 0);
        }
        var (start, end) = Bounds(range, file);
        var from = Math.Clamp(start + Math.Max(offset, 0), start, end);
        var count = (int)Math.Min(Math.Clamp(limit, 1, MaxLimit), end - from);
        var buffer = new byte[count];
        file.Position = from;
        await file.ReadExactlyAsync(buffer, ct);
        // Hand out whole lines: cut after the last newline unless the chunk has none.
        var cut = from + count < end ? Array.LastIndexOf(buffer, (byte)'\n') + 1 : count;
        if (cut == 0) cut = count;
        return new LogSlice(buffer.AsMemory(0, cut), from - start, from - start + cut, end - start);
    }

    public async Task<LogSlice> TailAsync(LogRange range, int lines, CancellationToken ct)
    {
        await using var file = OpenFile(range.RunId, range.AttemptId);
        if (file is null)
        {
            return new LogSlice(ReadOnlyMemory<byte>.Empty, 0, 0, 0);
        }
        var (start, end) = Bounds(range, file);
        var from = lines <= 0 ? end : await FindTailStartAsync(file, start, end, lines, ct);
        var data = new byte[end - from];
        file.Position = from;
        await file.ReadExactlyAsync(data, ct);
        return new LogSlice(data, from - start, end - start, end - start);
    }

    /// <summary>Walks back from the end, block by block, to just after the <paramref name="lines"/>-th line end
    /// before the last one (the last line's own line end does not count).</summary>
    private static async Task<long> FindTailStartAsync(FileStream file, long start, long end, int lines, CancellationToken ct)
    {
        var block = ArrayPool<byte>.Shared.Rent(TailBlock);
        try
        {
            var seen = 0;
            var blockEnd = end;
            while (blockEnd > start)
            {
                var size = (int)Math.Min(TailBlock, blockEnd - start);
                var blockStart = blockEnd - size;
                file.Position = blockStart;
                await file.ReadExactlyAsync(block.AsMemory(0, size), ct);
                for (var i = size - 1; i >= 0; i--)
                {
                    if (block[i] == '\n' && blockStart + i != end - 1 && ++seen == lines)
                    {
                        return blockStart + i + 1;
                    }
                }
                blockEnd = blockStart;
            }
            return start;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    private FileStream? OpenFile(long runId, long attemptId)
    {
        try
        {
            return new FileStream(PathOf(runId, attemptId), FileMode.Open, FileAccess.Read,
                FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null; // nothing written yet
        }
    }

    private static (long Start, long End) Bounds(LogRange range, FileStream file)
    {
        var length = file.Length;
        var end = Math.Min(range.End ?? length, length);
        var start = Math.Min(range.Start, end);
        return (start, end);
    }

    /// <summary>Buffered appends; a timer makes them visible to readers within <see cref="FlushEvery"/> while output flows.</summary>
    private sealed class FileLogWriter : ILogWriter
    {
        private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(50);
        private readonly FileStream _file;
        private readonly Action<long>? _flushed;
        private readonly Lock _gate = new();
        private readonly Timer _flusher;
        private long _position;
        private bool _dirty;

        public FileLogWriter(FileStream file, Action<long>? flushed)
        {
            _file = file;
            _flushed = flushed;
            _position = file.Length;
            _flusher = new Timer(_ => Flush(), null, FlushEvery, FlushEvery);
        }

        public long Position => Volatile.Read(ref _position);

        public void AppendLine(DateTimeOffset at, ReadOnlySpan<char> text)
        {
            Span<char> stamp = stackalloc char[32];
            at.UtcDateTime.TryFormat(stamp, out var n, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
            stamp[n++] = ' ';
            var rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length) + n + 1);
            try
            {
                var length = Encoding.UTF8.GetBytes(stamp[..n], rented);
                length += Encoding.UTF8.GetBytes(text, rented.AsSpan(length));
                rented[length++] = (byte)'\n';
                lock (_gate)
                {
                    _file.Write(rented, 0, length);
                    _position += length;
                    _dirty = true;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken = default)
        {
            Flush();
            return ValueTask.CompletedTask;
        }

        private void Flush()
        {
            long flushed;
            lock (_gate)
            {
                if (!_dirty || !_file.CanWrite) return;
                _file.Flush();
                _dirty = false;
                flushed = _position;
            }
            _flushed?.Invoke(flushed);
        }

        public async ValueTask DisposeAsync()
        {
            await _flusher.DisposeAsync();
            Flush();
            lock (_gate)
            {
                _file.Dispose();
            }
        }
    }
}
