using System.Text;
using BuildServer.Modules.Runs.Logs;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>A log line as the view holds it: where it is (bytes <see cref="Offset"/>..<see cref="End"/>), when it was
/// written, and its text as shown.</summary>
internal sealed record LogLine(long Number, long Offset, long End, DateTimeOffset? At, AnsiText Content);

/// <summary>
/// The lines of one attempt's log that a view holds: those it shows, read by byte offset from the store and let go
/// as soon as they are not shown. A missing run of lines is read from a neighbour held already (forwards from the end of
/// the line before it, backwards from the start of the line after it), from the log's end, or else from the line index.
/// Touched by one circuit at a time (its renderer's dispatcher).
/// </summary>
internal sealed class LogWindow(ILogStore store, LogIndex index)
{
    /// <summary>Characters of a line shown at most; the raw log has the rest.</summary>
    public const int MaxLineChars = 10_000;

    private const int ForwardBytes = 256 * 1024;
    private const int MaxLineBytes = 2 * 1024 * 1024;
    private readonly Dictionary<long, LogLine> _lines = [];

    public int Count => _lines.Count;

    public LogLine? Find(long number) => _lines.GetValueOrDefault(number);

    /// <summary>Makes sure each of <paramref name="numbers"/> (ascending) is held and lets go of every other line.</summary>
    public async Task ShowAsync(IReadOnlyList<long> numbers, LogIndexSnapshot snapshot, CancellationToken ct)
    {
        var wanted = numbers.ToHashSet();
        foreach (var number in _lines.Keys.Where(n => !wanted.Contains(n) || n > snapshot.Lines).ToList()) _lines.Remove(number);
        var i = 0;
        while (i < numbers.Count)
        {
            if (_lines.ContainsKey(numbers[i]))
            {
                i++;
                continue;
            }
            var j = i;
            while (j + 1 < numbers.Count && numbers[j + 1] == numbers[j] + 1 && !_lines.ContainsKey(numbers[j + 1])) j++;
            await LoadAsync(numbers[i], numbers[j], snapshot, ct);
            i = j + 1;
        }
    }

    public void Clear() => _lines.Clear();

    private async Task LoadAsync(long from, long to, LogIndexSnapshot snapshot, CancellationToken ct)
    {
        var range = new LogRange(index.RunId, index.AttemptId, 0, snapshot.Length);
        var count = (int)(to - from + 1);
        if (_lines.TryGetValue(from - 1, out var before))
        {
            await ReadForwardAsync(range, before.End, from, count, ct);
        }
        else if (_lines.TryGetValue(to + 1, out var after))
        {
            await ReadBackwardAsync(range with { End = after.Offset }, to, count, ct);
        }
        else if (to >= snapshot.Lines)
        {
            await ReadBackwardAsync(range, snapshot.Lines, count, ct);
        }
        else
        {
            await ReadForwardAsync(range, await index.OffsetOfLineAsync(from, ct), from, count, ct);
        }
    }

    private async Task ReadBackwardAsync(LogRange range, long last, int count, CancellationToken ct)
    {
        var slice = await store.TailAsync(range, count, ct);
        var lines = Split(slice.Data, slice.Offset);
        var number = last - lines.Count + 1;
        foreach (var (offset, end, bytes) in lines) Add(number++, offset, end, bytes);
    }

    private async Task ReadForwardAsync(LogRange range, long offset, long number, int count, CancellationToken ct)
    {
        var limit = ForwardBytes;
        while (count > 0 && offset < range.End)
        {
            var slice = await store.ReadAsync(range, offset, limit, ct);
            if (slice.Data.Length == 0) return;
            if (!slice.Data.Span.Contains((byte)'\n') && slice.NextOffset < slice.Size && limit < MaxLineBytes)
            {
                limit = MaxLineBytes; // a line longer than a read: read again, enough for the longest line an agent sends
                continue;
            }
            foreach (var (start, end, bytes) in Split(slice.Data, slice.Offset))
            {
                if (count-- == 0) return;
                Add(number++, start, end, bytes);
            }
            offset = slice.NextOffset;
        }
    }

    private void Add(long number, long offset, long end, ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        var textStart = LogLineFormat.TextStart(span);
        var text = span[textStart..].TrimEnd("\r\n"u8);
        var cut = text.Length > MaxLineChars * 4;
        var content = AnsiParser.Parse(Encoding.UTF8.GetString(cut ? text[..(MaxLineChars * 4)] : text), MaxLineChars);
        _lines[number] = new LogLine(number, offset, end, LogLineFormat.Time(span), cut ? content with { Cut = true } : content);
    }

    /// <summary>The lines of a slice: each one's offset, end and bytes (a last line without its newline counts too).</summary>
    private static List<(long Offset, long End, ReadOnlyMemory<byte> Bytes)> Split(ReadOnlyMemory<byte> data, long offset)
    {
        var lines = new List<(long, long, ReadOnlyMemory<byte>)>();
        var start = 0;
        while (start < data.Length)
        {
            var newline = data.Span[start..].IndexOf((byte)'\n');
            var length = newline < 0 ? data.Length - start : newline + 1;
            lines.Add((offset + start, offset + start + length, data.Slice(start, length)));
            start += length;
        }
        return lines;
    }
}
