using System.Globalization;
using System.Text;
using BuildServer.Modules.Runs.Logs;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>A piece of a line as rendered: its text, the CSS classes and inline style of its terminal style (null when
/// plain), and whether it is a search match.</summary>
internal readonly record struct LinePiece(string Text, string? Class, string? Style, bool Marked);

/// <summary>Cuts a line's text where its style changes or a search match starts or ends.</summary>
internal static class LinePieces
{
    public static List<LinePiece> Of(AnsiText content, string? query)
    {
        var text = content.Text;
        var matches = Matches(text, query);
        var pieces = new List<LinePiece>();
        if (content.Runs.Count == 0 && matches.Count == 0)
        {
            if (text.Length > 0) pieces.Add(new LinePiece(text, null, null, false));
            return pieces;
        }
        var cuts = new SortedSet<int> { 0, text.Length };
        foreach (var run in content.Runs)
        {
            cuts.Add(run.Start);
            cuts.Add(run.Start + run.Length);
        }
        foreach (var (start, length) in matches)
        {
            cuts.Add(start);
            cuts.Add(start + length);
        }
        int? previous = null;
        int runIndex = 0, matchIndex = 0;
        foreach (var cut in cuts)
        {
            if (previous is { } from && cut > from)
            {
                while (runIndex < content.Runs.Count && content.Runs[runIndex].Start + content.Runs[runIndex].Length <= from) runIndex++;
                while (matchIndex < matches.Count && matches[matchIndex].Start + matches[matchIndex].Length <= from) matchIndex++;
                var style = runIndex < content.Runs.Count && content.Runs[runIndex].Start <= from ? content.Runs[runIndex].Style : AnsiStyle.Plain;
                var marked = matchIndex < matches.Count && matches[matchIndex].Start <= from;
                pieces.Add(new LinePiece(text[from..cut], AnsiCss.Class(style), AnsiCss.Style(style), marked));
            }
            previous = cut;
        }
        return pieces;
    }

    /// <summary>Where the query occurs in the text, ignoring case, without overlaps.</summary>
    public static List<(int Start, int Length)> Matches(string text, string? query)
    {
        var found = new List<(int, int)>();
        if (string.IsNullOrEmpty(query)) return found;
        var at = 0;
        while (at <= text.Length - query.Length && text.IndexOf(query, at, StringComparison.OrdinalIgnoreCase) is var i and >= 0)
        {
            found.Add((i, query.Length));
            at = i + query.Length;
        }
        return found;
    }
}

/// <summary>The classes and inline style of a terminal style (see wwwroot/logview.css): the 16 colours are classes whose
/// colour follows the theme; an RGB colour is a CSS variable mixed the same way; inverse swaps the two colours.</summary>
internal static class AnsiCss
{
    public static string? Class(AnsiStyle style)
    {
        if (style.IsPlain) return null;
        var (fg, bg) = Colours(style);
        var classes = new StringBuilder();
        Add(classes, fg.IsNamed ? "bs-f" + fg.Value.ToString(CultureInfo.InvariantCulture) : fg.IsRgb ? "bs-fx" : null);
        Add(classes, bg.IsNamed ? "bs-b" + bg.Value.ToString(CultureInfo.InvariantCulture) : bg.IsRgb ? "bs-bx" : null);
        if (style.Flags.HasFlag(AnsiFlags.Inverse))
        {
            Add(classes, fg.IsDefault ? "bs-inv-f" : null);
            Add(classes, bg.IsDefault ? "bs-inv-b" : null);
        }
        Add(classes, style.Flags.HasFlag(AnsiFlags.Bold) ? "bs-bold" : null);
        Add(classes, style.Flags.HasFlag(AnsiFlags.Dim) ? "bs-dim" : null);
        Add(classes, style.Flags.HasFlag(AnsiFlags.Italic) ? "bs-it" : null);
        Add(classes, style.Flags.HasFlag(AnsiFlags.Underline) ? "bs-ul" : null);
        Add(classes, style.Flags.HasFlag(AnsiFlags.Strike) ? "bs-st" : null);
        return classes.Length == 0 ? null : classes.ToString();
    }

    public static string? Style(AnsiStyle style)
    {
        if (style.IsPlain) return null;
        var (fg, bg) = Colours(style);
        var fgStyle = fg.IsRgb ? string.Create(CultureInfo.InvariantCulture, $"--bs-fx:#{fg.Rgb:x6};") : null;
        var bgStyle = bg.IsRgb ? string.Create(CultureInfo.InvariantCulture, $"--bs-bx:#{bg.Rgb:x6};") : null;
        return fgStyle is null && bgStyle is null ? null : fgStyle + bgStyle;
    }

    private static (AnsiColor Fg, AnsiColor Bg) Colours(AnsiStyle style) =>
        style.Flags.HasFlag(AnsiFlags.Inverse) ? (style.Background, style.Foreground) : (style.Foreground, style.Background);

    private static void Add(StringBuilder classes, string? name)
    {
        if (name is null) return;
        if (classes.Length > 0) classes.Append(' ');
        classes.Append(name);
    }
}
