using System.Globalization;
using System.Text;

namespace BuildServer.Modules.Runs.Logs;

internal enum GroupMarkerKind : byte
{
    None,
    /// <summary><c>::group::title</c> (or <c>##[group]title</c>).</summary>
    Start,
    /// <summary><c>::endgroup::</c> (or <c>##[endgroup]</c>).</summary>
    End,
}

/// <summary>A group marker of a log: the number (1-based) of the line that holds it.</summary>
internal readonly record struct GroupMarker(long Line, GroupMarkerKind Kind);

/// <summary>The stored line format, <c>&lt;UTC timestamp&gt; &lt;text&gt;\n</c>, read back: where a line's text starts,
/// its time, and whether it is a group marker of the workflow commands.</summary>
internal static class LogLineFormat
{
    /// <summary>"2026-11-24T12:00:00.0000000Z " (the writer's stamp and one space).</summary>
    public const int StampLength = 29;

    private const string StampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    /// <summary>Where the text starts: after the stamp, or at 0 for a line without one.</summary>
    public static int TextStart(ReadOnlySpan<byte> line) =>
        line.Length >= StampLength && line[StampLength - 1] == (byte)' ' && line[StampLength - 2] == (byte)'Z'
            && line[10] == (byte)'T' && line[4] == (byte)'-' ? StampLength : 0;

    public static DateTimeOffset? Time(ReadOnlySpan<byte> line)
    {
        if (TextStart(line) == 0) return null;
        Span<char> stamp = stackalloc char[StampLength - 1];
        Encoding.ASCII.GetChars(line[..(StampLength - 1)], stamp);
        return DateTimeOffset.TryParseExact(stamp, StampFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at : null;
    }

    /// <summary>Whether the line (its stored bytes, with or without the newline) opens or closes a group. Like the
    /// runtime's workflow commands, leading blanks are allowed.</summary>
    public static GroupMarkerKind Marker(ReadOnlySpan<byte> line)
    {
        var text = line[TextStart(line)..].TrimStart(" \t"u8);
        if (text.Length < 9) return GroupMarkerKind.None;
        if (text.StartsWith("::group::"u8) || text.StartsWith("##[group]"u8)) return GroupMarkerKind.Start;
        if (text.StartsWith("::endgroup::"u8) || text.StartsWith("##[endgroup]"u8)) return GroupMarkerKind.End;
        return GroupMarkerKind.None;
    }

    /// <summary>The title of a group's opening line (its text after the marker), or null when it is not one.</summary>
    public static string? GroupTitle(string text)
    {
        var trimmed = text.AsSpan().TrimStart(" \t");
        foreach (var marker in (ReadOnlySpan<string>)["::group::", "##[group]"])
        {
            if (trimmed.StartsWith(marker, StringComparison.Ordinal)) return trimmed[marker.Length..].Trim().ToString();
        }
        return null;
    }
}
