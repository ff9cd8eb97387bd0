using System.Buffers;
using System.Text;

namespace BuildServer.Modules.Runs.Logs;

/// <param name="Offsets">Where each matching line starts, in order.</param>
/// <param name="Capped">More lines match than were kept.</param>
/// <param name="Searched">How many bytes of the log were searched (the log may have grown since).</param>
internal sealed record LogMatches(IReadOnlyList<long> Offsets, bool Capped, long Searched);

/// <summary>
/// Finds the lines of a whole log that contain a text (ignoring case), reading it in blocks so a 100 MB log is never
/// held: the text a user sees is searched (after the timestamp, without escape sequences). A block without the text and
/// without escape sequences is passed over whole, so a search costs little more than reading the log.
/// </summary>
internal static class LogSearch
{
    private const int Block = 1 << 20;

    public static async Task<LogMatches> FindAsync(Stream log, string query, int max, CancellationToken ct)
    {
        var offsets = new List<long>();
        if (query.Length == 0) return new LogMatches(offsets, false, 0);
        var bytes = ArrayPool<byte>.Shared.Rent(Block);
        var chars = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(Block));
        try
        {
            long position = 0;
            while (true)
            {
                log.Position = position;
                var read = await log.ReadAtLeastAsync(bytes.AsMemory(0, Block), Block, throwOnEndOfStream: false, ct);
                if (read == 0) break;
                var block = bytes.AsSpan(0, read);
                if (read == Block && block.LastIndexOf((byte)'\n') is var last and >= 0) block = block[..(last + 1)];
                if (MayHold(block, chars, query) && SearchLines(block, position, query, offsets, max))
                {
                    return new LogMatches(offsets, true, position + block.Length);
                }
                position += block.Length;
            }
            return new LogMatches(offsets, false, position);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>False when the block cannot hold the text: it is not there, and no escape sequence or control character
    /// (which the view drops) could split it.</summary>
    private static bool MayHold(ReadOnlySpan<byte> block, char[] chars, string query)
    {
        if (block.IndexOfAnyInRange((byte)0x00, (byte)0x08) >= 0 || block.IndexOfAnyInRange((byte)0x0b, (byte)0x0c) >= 0
            || block.IndexOfAnyInRange((byte)0x0e, (byte)0x1f) >= 0 || block.Contains((byte)0x7f))
        {
            return true;
        }
        var count = Encoding.UTF8.GetChars(block, chars);
        return chars.AsSpan(0, count).Contains(query, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Adds the offsets of the block's matching lines; true once <paramref name="max"/> are found.</summary>
    private static bool SearchLines(ReadOnlySpan<byte> block, long blockOffset, string query, List<long> offsets, int max)
    {
        var start = 0;
        while (start < block.Length)
        {
            var newline = block[start..].IndexOf((byte)'\n');
            var line = newline < 0 ? block[start..] : block.Slice(start, newline);
            if (LineHolds(line, query))
            {
                offsets.Add(blockOffset + start);
                if (offsets.Count >= max) return true;
            }
            start += line.Length + 1;
        }
        return false;
    }

    private static bool LineHolds(ReadOnlySpan<byte> line, string query)
    {
        var text = line[LogLineFormat.TextStart(line)..];
        var rented = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(text.Length));
        try
        {
            var count = Encoding.UTF8.GetChars(text, rented);
            var chars = rented.AsSpan(0, count);
            // What is shown: escape sequences and control characters out, a carriage return's overwritten text gone.
            return AnsiParser.HasControls(chars)
                ? AnsiParser.Parse(chars).Text.Contains(query, StringComparison.OrdinalIgnoreCase)
                : chars.Contains(query, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }
}
