using System.Globalization;
using System.Text;

namespace BuildServer.Modules.Runs.Logs;

/// <summary>
/// Reads one log line as a terminal would show it: SGR sequences (<c>ESC[…m</c>: bold, dim, italic, underline,
/// inverse, strike-through, the 16 colours, 256 colours and RGB, foreground and background, their resets) become styled
/// runs; every other escape sequence (cursor moves, erases, titles, hyperlinks, character sets) and control character is
/// dropped; a carriage return inside the line starts it over (a progress bar shows its last state). Each line starts
/// plain: a colour left on at the end of a line does not reach the next, so any line can be shown on its own.
/// </summary>
internal static class AnsiParser
{
    private const char Esc = '\x1b';
    private const int MaxParams = 64;

    /// <summary>Whether the text holds anything the parser would take out (an escape sequence, a control character).</summary>
    public static bool HasControls(ReadOnlySpan<char> text) =>
        text.IndexOfAnyInRange('\0', '\x08') >= 0 || text.IndexOfAnyInRange('\x0a', '\x1f') >= 0 || text.IndexOfAnyInRange('\x7f', '\x9f') >= 0;

    /// <param name="maxChars">Text past this many characters is left out (<see cref="AnsiText.Cut"/>).</param>
    public static AnsiText Parse(ReadOnlySpan<char> input, int maxChars = int.MaxValue)
    {
        if (!HasControls(input))
        {
            return input.Length <= maxChars ? new AnsiText(input.ToString(), [], false) : new AnsiText(input[..maxChars].ToString(), [], true);
        }
        var line = new Builder(maxChars);
        var i = 0;
        while (i < input.Length)
        {
            var c = input[i];
            if (c == Esc)
            {
                i += Escape(input[i..], line);
            }
            else if (c == '\x9b')
            {
                i += 1 + Csi(input[(i + 1)..], line); // the 8-bit form of ESC [
            }
            else
            {
                if (c == '\r' && i + 1 < input.Length) line.CarriageReturn();
                else if (c == '\t' || (c >= ' ' && c is not ('\x7f' or (>= '\x80' and <= '\x9f')))) line.Append(c);
                i++;
            }
        }
        return line.Build();
    }

    /// <summary>How long the escape sequence at the start of <paramref name="text"/> (an ESC) is; a sequence cut short
    /// by the line's end takes the rest of the line.</summary>
    private static int Escape(ReadOnlySpan<char> text, Builder line)
    {
        if (text.Length < 2) return text.Length;
        switch (text[1])
        {
            case '[':
                return 2 + Csi(text[2..], line);
            case ']' or 'P' or 'X' or '^' or '_':
                // OSC (titles, hyperlinks), DCS, SOS, PM, APC: up to BEL or the string terminator ESC \.
                for (var j = 2; j < text.Length; j++)
                {
                    if (text[j] == '\a') return j + 1;
                    if (text[j] == Esc && j + 1 < text.Length && text[j + 1] == '\\') return j + 2;
                }
                return text.Length;
            case >= ' ' and <= '/':
                // ESC, intermediates, one final character (e.g. ESC ( B, a character set).
                var k = 2;
                while (k < text.Length && text[k] is >= ' ' and <= '/') k++;
                return Math.Min(k + 1, text.Length);
            default:
                return 2;
        }
    }

    /// <summary>Parameters, intermediates and the final character of a control sequence (after ESC [); applies it when
    /// it is an SGR. Returns how many characters it takes.</summary>
    private static int Csi(ReadOnlySpan<char> text, Builder line)
    {
        var j = 0;
        while (j < text.Length && text[j] is >= '0' and <= '?') j++;
        var parameters = text[..j];
        var intermediates = j;
        while (j < text.Length && text[j] is >= ' ' and <= '/') j++;
        if (j >= text.Length) return text.Length;
        if (text[j] is < '@' or > '~') return j; // not a control sequence after all: the character is kept
        var isPrivate = parameters.Length > 0 && parameters[0] is '<' or '=' or '>' or '?';
        if (text[j] == 'm' && j == intermediates && !isPrivate) line.Style = Sgr(line.Style, parameters);
        return j + 1;
    }

    internal static AnsiStyle Sgr(AnsiStyle style, ReadOnlySpan<char> parameters)
    {
        Span<Range> parts = stackalloc Range[MaxParams];
        var count = parameters.Split(parts, ';');
        var (fg, bg, flags) = style;
        for (var k = 0; k < count; k++)
        {
            var part = parameters[parts[k]];
            if (part.Contains(':'))
            {
                ApplyColonForm(part, ref fg, ref bg, ref flags);
                continue;
            }
            switch (Number(part, empty: 0))
            {
                case 0: (fg, bg, flags) = AnsiStyle.Plain; break;
                case 1: flags |= AnsiFlags.Bold; break;
                case 2: flags |= AnsiFlags.Dim; break;
                case 3: flags |= AnsiFlags.Italic; break;
                case 4 or 21: flags |= AnsiFlags.Underline; break;
                case 7: flags |= AnsiFlags.Inverse; break;
                case 9: flags |= AnsiFlags.Strike; break;
                case 22: flags &= ~(AnsiFlags.Bold | AnsiFlags.Dim); break;
                case 23: flags &= ~AnsiFlags.Italic; break;
                case 24: flags &= ~AnsiFlags.Underline; break;
                case 27: flags &= ~AnsiFlags.Inverse; break;
                case 29: flags &= ~AnsiFlags.Strike; break;
                case var n and >= 30 and <= 37: fg = AnsiColor.Named(n - 30); break;
                case var n and >= 40 and <= 47: bg = AnsiColor.Named(n - 40); break;
                case var n and >= 90 and <= 97: fg = AnsiColor.Named(n - 90 + 8); break;
                case var n and >= 100 and <= 107: bg = AnsiColor.Named(n - 100 + 8); break;
                case 39: fg = AnsiColor.Default; break;
                case 49: bg = AnsiColor.Default; break;
                case var n and (38 or 48):
                    var (colour, used) = Extended(parameters, parts[(k + 1)..count]);
                    if (n == 38) fg = colour;
                    else bg = colour;
                    k += used;
                    break;
            }
        }
        return new AnsiStyle(fg, bg, flags);
    }

    /// <summary>38/48 in the semicolon form: <c>5;n</c> or <c>2;r;g;b</c>. Returns the colour and how many parameters it took.</summary>
    private static (AnsiColor Colour, int Used) Extended(ReadOnlySpan<char> parameters, ReadOnlySpan<Range> rest)
    {
        if (rest.Length >= 2 && Number(parameters[rest[0]], -1) == 5) return (AnsiColor.From256(Number(parameters[rest[1]], -1)), 2);
        if (rest.Length >= 4 && Number(parameters[rest[0]], -1) == 2)
        {
            return (AnsiColor.FromRgb(Number(parameters[rest[1]], 0), Number(parameters[rest[2]], 0), Number(parameters[rest[3]], 0)), 4);
        }
        return (AnsiColor.Default, Math.Min(rest.Length, 1));
    }

    /// <summary>The ITU form with colons: <c>38:5:n</c>, <c>38:2:r:g:b</c>, <c>38:2:cs:r:g:b</c> (an empty or given colour
    /// space), and <c>4:n</c> (underline styles; 0 is none).</summary>
    private static void ApplyColonForm(ReadOnlySpan<char> part, ref AnsiColor fg, ref AnsiColor bg, ref AnsiFlags flags)
    {
        Span<Range> subs = stackalloc Range[8];
        var count = part.Split(subs, ':');
        var code = Number(part[subs[0]], -1);
        var kind = count > 1 ? Number(part[subs[1]], -1) : -1;
        if (code == 4)
        {
            flags = kind == 0 ? flags & ~AnsiFlags.Underline : flags | AnsiFlags.Underline;
            return;
        }
        if (code is not (38 or 48)) return;
        var colour = kind switch
        {
            5 when count >= 3 => AnsiColor.From256(Number(part[subs[2]], -1)),
            2 when count >= 6 => AnsiColor.FromRgb(Number(part[subs[3]], 0), Number(part[subs[4]], 0), Number(part[subs[5]], 0)),
            2 when count == 5 => AnsiColor.FromRgb(Number(part[subs[2]], 0), Number(part[subs[3]], 0), Number(part[subs[4]], 0)),
            _ => AnsiColor.Default,
        };
        if (code == 38) fg = colour;
        else bg = colour;
    }

    private static int Number(ReadOnlySpan<char> text, int empty) =>
        text.Length == 0 ? empty : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;

    /// <summary>The line's text and runs as they are being read.</summary>
    private sealed class Builder(int maxChars)
    {
        private readonly StringBuilder _text = new();
        private readonly List<AnsiRun> _runs = [];
        private AnsiStyle _style = AnsiStyle.Plain;
        private int _runStart;
        private bool _cut;

        public AnsiStyle Style
        {
            get => _style;
            set
            {
                if (value == _style) return;
                CloseRun();
                _style = value;
            }
        }

        public void Append(char c)
        {
            if (_text.Length >= maxChars)
            {
                _cut = true;
                return;
            }
            _text.Append(c);
        }

        public void CarriageReturn()
        {
            _text.Clear();
            _runs.Clear();
            _runStart = 0;
            _cut = false;
        }

        public AnsiText Build()
        {
            CloseRun();
            return new AnsiText(_text.ToString(), [.. _runs], _cut);
        }

        private void CloseRun()
        {
            if (_text.Length > _runStart && !_style.IsPlain) _runs.Add(new AnsiRun(_runStart, _text.Length - _runStart, _style));
            _runStart = _text.Length;
        }
    }
}
