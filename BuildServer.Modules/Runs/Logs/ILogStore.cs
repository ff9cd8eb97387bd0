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
}

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
