namespace BuildServer.Modules.Runs.Logs;

/// <summary>
/// Where attempt logs live. One append-only log per attempt; a step's log is a byte range of it
/// (<see cref="Step.LogStart"/>..<see cref="Step.LogEnd"/>). Each line is stored as
/// <c>&lt;UTC timestamp&gt; &lt;text&gt;\n</c>. Reads never load a whole log.
/// </summary>
public interface ILogStore
{
    /// <summary>Opens the attempt's log for appending. One writer per attempt at a time.</summary>
    ILogWriter OpenWriter(long runId, long attemptId);

    /// <summary>Up to <paramref name="limit"/> bytes from <paramref name="offset"/> within [start, end), cut at a line end where possible.</summary>
    Task<LogSlice> ReadAsync(LogRange range, long offset, int limit, CancellationToken cancellationToken);

    /// <summary>The last <paramref name="lines"/> lines within the range.</summary>
    Task<LogSlice> TailAsync(LogRange range, int lines, CancellationToken cancellationToken);

    /// <summary>
    /// The range as a read-only, seekable stream, for reading a log too big to hold (a download, an index, a search):
    /// it ends where the range ended when it was opened. Null when nothing is written yet. The caller disposes it.
    /// </summary>
    Stream? OpenRead(LogRange range);

    /// <summary>
    /// Appends a chunk of an agent's log (lines already in the store's format), exactly once: chunk
    /// <paramref name="sequence"/> must follow the last stored one and start at the stored length
    /// (<paramref name="offset"/>); a chunk stored already is acknowledged again without writing. The log and its
    /// sequence are kept together, so a crash between them is repaired on the next append (the log is cut back to
    /// the length its sequence vouches for). Chunks of one attempt are appended one at a time.
    /// </summary>
    /// <param name="maxLength">The attempt's log may not grow beyond this many bytes.</param>
    Task<ChunkResult> AppendChunkAsync(long runId, long attemptId, long sequence, long offset, ReadOnlyMemory<byte> data, long maxLength, CancellationToken cancellationToken);
}

public enum ChunkOutcome
{
    Stored,
    /// <summary>A re-send of a stored chunk: acknowledged, nothing written.</summary>
    Duplicate,
    /// <summary>A chunk after a gap: the one before it has not arrived.</summary>
    OutOfOrder,
    /// <summary>The chunk's offset is not where the stored log ends.</summary>
    OffsetMismatch,
    /// <summary>The chunk would take the attempt's log over its cap.</summary>
    TooLarge,
}

/// <param name="Sequence">The last stored chunk's sequence number (0: none yet).</param>
/// <param name="Length">The stored log's length.</param>
public sealed record ChunkResult(ChunkOutcome Outcome, long Sequence, long Length);

/// <summary>A byte range of an attempt's log; <see cref="End"/> null means "up to what is written so far".</summary>
public sealed record LogRange(long RunId, long AttemptId, long Start = 0, long? End = null);

/// <summary>Bytes of a log: <see cref="Offset"/> and <see cref="NextOffset"/> are relative to the range's start.</summary>
public sealed record LogSlice(ReadOnlyMemory<byte> Data, long Offset, long NextOffset, long Size);

/// <summary>Appends lines to one attempt's log. Thread-safe (stdout and stderr readers share it).</summary>
public interface ILogWriter : IAsyncDisposable
{
    /// <summary>Bytes written so far, including those not yet flushed.</summary>
    long Position { get; }

    void AppendLine(DateTimeOffset at, ReadOnlySpan<char> text);

    /// <summary>Makes appended lines visible to readers.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);
}
