using YamlDotNet.Core;

namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>
/// Maps an offset within a scalar's value back to a line and column in the file, so that an error inside an
/// expression points at the offending character. Exact for single-line plain, single-quoted and double-quoted
/// scalars and for literal block scalars (<c>|</c>); for folded and multi-line flow scalars it finds the
/// <c>${{</c> the offset belongs to in the source and counts from there.
/// </summary>
internal sealed class SourceMap(string text)
{
    private readonly string _text = text;
    private List<int>? _lineStarts;

    public static SourcePos At(Mark mark) => new((int)Math.Clamp(mark.Line, 1, int.MaxValue), (int)Math.Clamp(mark.Column, 1, int.MaxValue));

    public SourcePos Locate(YScalar scalar, int offset)
    {
        var start = (int)Math.Clamp(scalar.Start.Index, 0, _text.Length);
        var at = At(scalar.Start);
        offset = Math.Clamp(offset, 0, scalar.Value.Length);
        var singleLine = scalar.Start.Line == scalar.End.Line;
        return scalar.Style switch
        {
            ScalarStyle.Plain when singleLine => at with { Column = at.Column + offset },
            ScalarStyle.SingleQuoted when singleLine => Walk(start + 1, at with { Column = at.Column + 1 }, offset, QuotedStep('\'')),
            ScalarStyle.DoubleQuoted when singleLine => Walk(start + 1, at with { Column = at.Column + 1 }, offset, QuotedStep('"')),
            ScalarStyle.Literal => Literal(scalar, offset),
            _ => Fold(scalar, offset) ?? ByExpression(scalar, offset) ?? at,
        };
    }

    /// <summary>Multi-line flow scalars and folded blocks: walks value and source together, where a line break
    /// and the indentation after it in the source became one space (or newline) in the value. Null when the two
    /// stop matching (an escape it does not know), so the caller falls back.</summary>
    private SourcePos? Fold(YScalar scalar, int offset)
    {
        var value = scalar.Value;
        var end = (int)Math.Clamp(scalar.End.Index, 0, _text.Length);
        var i = (int)Math.Clamp(scalar.Start.Index, 0, _text.Length);
        var quote = scalar.Style switch { ScalarStyle.SingleQuoted => '\'', ScalarStyle.DoubleQuoted => '"', _ => '\0' };
        if (quote != '\0') i++;
        if (scalar.Style == ScalarStyle.Folded)
        {
            i = LineStart((int)scalar.Start.Line + 1) + BlockIndent((int)scalar.Start.Line);
        }
        var v = 0;
        while (v < offset && i < end)
        {
            if (quote == '"' && _text[i] == '\\')
            {
                i += QuotedStep(quote)(_text, i);
                v++;
            }
            else if (_text[i] == value[v])
            {
                i += quote == '\'' && _text[i] == '\'' ? 2 : 1;
                v++;
            }
            else if (char.IsWhiteSpace(_text[i]))
            {
                while (i < end && char.IsWhiteSpace(_text[i])) i++;
                while (v < offset && value[v] is ' ' or '\n') v++;
            }
            else
            {
                return null;
            }
        }
        return i <= end ? PositionOf(Math.Min(i, _text.Length)) : null;
    }

    /// <summary>Advances through the source from <paramref name="index"/>: each call of <paramref name="step"/>
    /// consumes the source characters that produce one value character.</summary>
    private SourcePos Walk(int index, SourcePos pos, int offset, Func<string, int, int> step)
    {
        for (var i = 0; i < offset && index < _text.Length; i++)
        {
            var consumed = Math.Max(1, step(_text, index));
            index += consumed;
            pos = pos with { Column = pos.Column + consumed };
        }
        return pos;
    }

    private static Func<string, int, int> QuotedStep(char quote) => (text, index) =>
    {
        if (quote == '\'') return text[index] == '\'' && index + 1 < text.Length && text[index + 1] == '\'' ? 2 : 1;
        if (text[index] != '\\' || index + 1 >= text.Length) return 1;
        return text[index + 1] switch { 'x' => 4, 'u' => 6, 'U' => 10, _ => 2 };
    };

    /// <summary>A literal block's value lines are its source lines (after the header) without the indentation.</summary>
    private SourcePos Literal(YScalar scalar, int offset)
    {
        var lineInValue = 0;
        var lineStart = 0;
        for (var i = 0; i < offset; i++)
        {
            if (scalar.Value[i] == '\n')
            {
                lineInValue++;
                lineStart = i + 1;
            }
        }
        var headerLine = (int)scalar.Start.Line;
        var indent = BlockIndent(headerLine);
        return new SourcePos(headerLine + 1 + lineInValue, indent + offset - lineStart + 1);
    }

    /// <summary>The indentation of the first non-blank line after <paramref name="headerLine"/> (1-based).</summary>
    private int BlockIndent(int headerLine)
    {
        var index = LineStart(headerLine + 1);
        while (index < _text.Length)
        {
            var spaces = 0;
            while (index + spaces < _text.Length && _text[index + spaces] == ' ') spaces++;
            var next = index + spaces;
            if (next < _text.Length && _text[next] is not ('\n' or '\r')) return spaces;
            var end = _text.IndexOf('\n', index);
            if (end < 0) break;
            index = end + 1;
        }
        return 0;
    }

    private int LineStart(int line)
    {
        var starts = LineStarts;
        return line >= 1 && line <= starts.Count ? starts[line - 1] : _text.Length;
    }

    private List<int> LineStarts => _lineStarts ??= ComputeLineStarts(_text);

    private static List<int> ComputeLineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = text.IndexOf('\n', StringComparison.Ordinal); i >= 0; i = text.IndexOf('\n', i + 1)) starts.Add(i + 1);
        return starts;
    }

    /// <summary>Best effort: the n-th <c>${{</c> of the value is the n-th in the scalar's source.</summary>
    private SourcePos? ByExpression(YScalar scalar, int offset)
    {
        if (scalar.Value.Length == 0) return null;
        var opening = scalar.Value.LastIndexOf("${{", Math.Min(offset + 2, scalar.Value.Length - 1), StringComparison.Ordinal);
        if (opening < 0) return null;
        var nth = 0;
        for (var i = scalar.Value.IndexOf("${{", StringComparison.Ordinal); i >= 0 && i < opening; i = scalar.Value.IndexOf("${{", i + 3, StringComparison.Ordinal)) nth++;
        var sourceStart = (int)Math.Clamp(scalar.Start.Index, 0, _text.Length);
        var sourceEnd = (int)Math.Clamp(scalar.End.Index, sourceStart, _text.Length);
        var found = _text.IndexOf("${{", sourceStart, sourceEnd - sourceStart, StringComparison.Ordinal);
        for (var i = 0; i < nth && found >= 0; i++)
        {
            found = _text.IndexOf("${{", found + 3, sourceEnd - (found + 3), StringComparison.Ordinal);
        }
        if (found < 0) return null;
        var index = found;
        for (var delta = offset - opening; delta > 0 && index < sourceEnd && _text[index] != '\n'; delta--) index++;
        return PositionOf(index);
    }

    private SourcePos PositionOf(int index)
    {
        var starts = LineStarts;
        var found = starts.BinarySearch(index);
        var line = found >= 0 ? found : ~found - 1;
        return new SourcePos(line + 1, index - starts[line] + 1);
    }
}
