using BuildServer.Modules.Runs.Logs;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>A step as the outline places it: its lines are <see cref="FirstLine"/> up to <see cref="EndLine"/>
/// (exclusive; null while it runs: up to the next step's first line or the log's end). A step that has not started has
/// no lines (<see cref="FirstLine"/> null) and only a header, after everything else.</summary>
internal sealed record OutlineStep(int Position, long? FirstLine, long? EndLine);

internal enum RowKind : byte
{
    /// <summary>A step's header; the value is the step's position in the list given.</summary>
    Step,
    /// <summary>A log line; the value is its number (1-based).</summary>
    Line,
}

internal readonly record struct OutlineRow(RowKind Kind, long Value);

/// <summary>A <c>::group::</c>: its header line, its body (the lines after it up to <see cref="BodyEnd"/>, exclusive),
/// whether it is closed (an <c>::endgroup::</c>, the next group, or its step's end) and whether it is shown open.</summary>
internal sealed record OutlineGroup(long Line, long BodyEnd, bool Closed, bool Expanded)
{
    public long BodyLines => BodyEnd - Line - 1;
}

/// <summary>
/// What the log view shows, as rows: each started step's header and then, unless the step is folded, its lines, in
/// log order; lines outside every step where they fall; the headers of steps not started at the end. Within the lines,
/// a group's opening line is its header row, its body is shown only while the group is open (a closed group is folded
/// by default, an open one shown; a user's choice wins), and <c>::endgroup::</c> lines are never shown. Groups do not
/// nest (a new group closes the one before, as in GitHub Actions) and never outlive their step. Rows are held as
/// segments, so a log of a million lines with a few hundred groups is a few hundred entries; built anew on each change.
/// </summary>
internal sealed class LogOutline
{
    private readonly List<Segment> _segments = [];
    private readonly List<int> _lineSegments = [];
    private readonly List<OutlineGroup> _groups = [];
    private readonly Dictionary<long, OutlineGroup> _groupsByLine = [];
    private readonly List<(int? Step, long From, long To)> _sections = [];
    private long _rows;

    private LogOutline()
    {
    }

    public long RowCount => _rows;

    public IReadOnlyList<OutlineGroup> Groups => _groups;

    /// <param name="lines">Complete lines in the log.</param>
    /// <param name="markers">The group markers, in line order.</param>
    /// <param name="attemptFinished">Whether the attempt ended (a group still open at the log's end is then closed).</param>
    /// <param name="stepOpen">A user's choice per step position (default: open).</param>
    /// <param name="groupOpen">A user's choice per group header line (default: open while the group is).</param>
    public static LogOutline Build(long lines, IReadOnlyList<OutlineStep> steps, ReadOnlySpan<GroupMarker> markers, bool attemptFinished,
        IReadOnlyDictionary<int, bool> stepOpen, IReadOnlyDictionary<long, bool> groupOpen)
    {
        var outline = new LogOutline();
        var started = steps.Where(s => s.FirstLine is not null).OrderBy(s => s.FirstLine).ThenBy(s => s.Position).ToList();
        var cursor = 1L;
        for (var i = 0; i < started.Count; i++)
        {
            var next = i + 1 < started.Count ? Math.Clamp(started[i + 1].FirstLine!.Value, cursor, lines + 1) : lines + 1;
            var from = Math.Clamp(started[i].FirstLine!.Value, cursor, next);
            var to = Math.Clamp(started[i].EndLine ?? next, from, next);
            if (from > cursor) outline.AddSection(null, cursor, from, closed: true, markers, groupOpen, open: true);
            var open = stepOpen.GetValueOrDefault(started[i].Position, true);
            outline.AddSection(started[i].Position, from, to, closed: started[i].EndLine is not null || attemptFinished, markers, groupOpen, open);
            cursor = to;
        }
        if (cursor <= lines) outline.AddSection(null, cursor, lines + 1, closed: attemptFinished, markers, groupOpen, open: true);
        foreach (var pending in steps.Where(s => s.FirstLine is null).OrderBy(s => s.Position))
        {
            outline.AddSection(pending.Position, cursor, cursor, closed: false, markers, groupOpen, open: false);
        }
        return outline;
    }

    public OutlineRow RowAt(long row)
    {
        var segment = _segments[FindSegment(row)];
        return segment.Kind == RowKind.Step ? new OutlineRow(RowKind.Step, segment.Value) : new OutlineRow(RowKind.Line, segment.Value + row - segment.Row);
    }

    /// <summary>The row showing the line, or null when it is hidden (in a folded step or group, or an end marker).</summary>
    public long? RowOfLine(long line)
    {
        int lo = 0, hi = _lineSegments.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var segment = _segments[_lineSegments[mid]];
            if (line < segment.Value) hi = mid - 1;
            else if (line >= segment.Value + segment.Count) lo = mid + 1;
            else return segment.Row + line - segment.Value;
        }
        return null;
    }

    public long? RowOfStep(int position)
    {
        foreach (var segment in _segments)
        {
            if (segment.Kind == RowKind.Step && segment.Value == position) return segment.Row;
        }
        return null;
    }

    /// <summary>The group whose header is this line.</summary>
    public OutlineGroup? GroupAt(long line) => _groupsByLine.GetValueOrDefault(line);

    /// <summary>What holds the line: its step's position (if any) and the header line of its group (if any).</summary>
    public (int? Step, long? Group) Container(long line)
    {
        int? step = null;
        foreach (var (position, from, to) in _sections)
        {
            if (line >= from && line < to) step = position;
        }
        var index = _groups.BinarySearch(new OutlineGroup(line, 0, false, false), Comparer<OutlineGroup>.Create((a, b) => a.Line.CompareTo(b.Line)));
        var candidate = index >= 0 ? index - 1 : ~index - 1;
        long? group = candidate >= 0 && line > _groups[candidate].Line && line < _groups[candidate].BodyEnd ? _groups[candidate].Line : null;
        return (step, group);
    }

    private int FindSegment(long row)
    {
        int lo = 0, hi = _segments.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_segments[mid].Row <= row) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /// <summary>A step's header (when it has one) and, when open, its lines [from, to) with their groups.</summary>
    private void AddSection(int? step, long from, long to, bool closed, ReadOnlySpan<GroupMarker> markers, IReadOnlyDictionary<long, bool> groupOpen, bool open)
    {
        if (step is { } position)
        {
            _segments.Add(new Segment(_rows, 1, RowKind.Step, position));
            _rows++;
        }
        if (to > from) _sections.Add((step, from, to));
        if (!open || to <= from) return;
        var position2 = from;
        long? group = null;
        foreach (var marker in markers[First(markers, from)..])
        {
            if (marker.Line >= to) break;
            if (group is { } start)
            {
                AddGroup(start, marker.Line, closed: true, groupOpen);
                position2 = marker.Kind == GroupMarkerKind.End ? marker.Line + 1 : marker.Line;
                group = marker.Kind == GroupMarkerKind.Start ? marker.Line : null;
                continue;
            }
            AddLines(position2, marker.Line);
            position2 = marker.Kind == GroupMarkerKind.End ? marker.Line + 1 : marker.Line; // a stray end marker is hidden too
            if (marker.Kind == GroupMarkerKind.Start) group = marker.Line;
        }
        if (group is { } last) AddGroup(last, to, closed, groupOpen);
        else AddLines(position2, to);
    }

    private void AddGroup(long line, long bodyEnd, bool closed, IReadOnlyDictionary<long, bool> groupOpen)
    {
        var group = new OutlineGroup(line, bodyEnd, closed, groupOpen.GetValueOrDefault(line, !closed));
        _groups.Add(group);
        _groupsByLine[line] = group;
        AddLines(line, line + 1);
        if (group.Expanded) AddLines(line + 1, bodyEnd);
    }

    private void AddLines(long from, long to)
    {
        if (to <= from) return;
        if (_segments.Count > 0 && _segments[^1] is { Kind: RowKind.Line } last && last.Value + last.Count == from)
        {
            _segments[^1] = last with { Count = last.Count + to - from };
        }
        else
        {
            _lineSegments.Add(_segments.Count);
            _segments.Add(new Segment(_rows, to - from, RowKind.Line, from));
        }
        _rows += to - from;
    }

    private static int First(ReadOnlySpan<GroupMarker> markers, long line)
    {
        int lo = 0, hi = markers.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (markers[mid].Line < line) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary><see cref="Count"/> rows from <see cref="Row"/>: one step header, or consecutive lines from <see cref="Value"/>.</summary>
    private readonly record struct Segment(long Row, long Count, RowKind Kind, long Value);
}
