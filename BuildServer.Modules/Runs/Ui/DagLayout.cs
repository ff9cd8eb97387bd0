using System.Globalization;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>One box of the picture: a workflow job, either one node or (a matrix) a group with its legs inside.</summary>
/// <param name="AnchorY">Where edges meet the box: the middle of a node, the middle of a group's title.</param>
internal sealed record DagBox(string Key, int Column, int X, int Y, int Height, int AnchorY, bool IsGroup, IReadOnlyList<JobView> Jobs);

/// <summary>An edge from a job to one that needs it, as an SVG path (a curve from the right of one box to the left of the other).</summary>
internal sealed record DagEdge(string From, string To, string Path);

internal sealed record DagPicture(int Width, int Height, IReadOnlyList<DagBox> Boxes, IReadOnlyList<DagEdge> Edges);

/// <summary>
/// Lays a run's jobs out as a left-to-right DAG, on the server (no script): a column per depth of <c>needs</c> (a job
/// without needs is in column 0, any other one column right of the deepest job it needs), the workflow jobs of a column
/// stacked in the order of the jobs they need (so that edges cross less), a matrix job as a group box with one row per
/// leg. A job not yet expanded (still waiting for its needs) is one row, so one node. Linear in jobs and edges.
/// </summary>
internal static class DagLayout
{
    public const int BoxWidth = 232;
    public const int ColumnGap = 56;
    public const int NodeHeight = 40;
    public const int GroupTitle = 30;
    public const int LegHeight = 30;
    public const int GroupPadding = 6;
    public const int BoxGap = 14;

    public static DagPicture Lay(IReadOnlyList<JobView> jobs)
    {
        // Workflow jobs in the order they were created (the workflow's order), each with its rows (matrix legs).
        var keys = jobs.GroupBy(j => j.Key).OrderBy(g => g.Min(j => j.Id)).ToList();
        var rows = keys.ToDictionary(g => g.Key, g => g.OrderBy(j => j.Id).ToList());
        var needs = keys.ToDictionary(g => g.Key, g => g.First().Needs.Where(rows.ContainsKey).Distinct().ToList());
        var depth = new Dictionary<string, int>();
        foreach (var key in rows.Keys) DepthOf(key, needs, depth, []);

        var boxes = new Dictionary<string, DagBox>();
        var height = 0;
        foreach (var column in keys.Select(g => g.Key).GroupBy(k => depth[k]).OrderBy(c => c.Key))
        {
            var ordered = column.Select((key, i) => (key, i))
                .OrderBy(t => needs[t.key].Where(boxes.ContainsKey).Select(n => (double)boxes[n].AnchorY).DefaultIfEmpty(t.i).Average())
                .ThenBy(t => t.i).Select(t => t.key);
            var y = 0;
            foreach (var key in ordered)
            {
                var legs = rows[key];
                var isGroup = legs.Count > 1;
                var boxHeight = isGroup ? GroupTitle + legs.Count * LegHeight + GroupPadding : NodeHeight;
                var x = column.Key * (BoxWidth + ColumnGap);
                boxes[key] = new DagBox(key, column.Key, x, y, boxHeight, y + (isGroup ? GroupTitle / 2 : NodeHeight / 2), isGroup, legs);
                y += boxHeight + BoxGap;
            }
            height = Math.Max(height, y - BoxGap);
        }
        var edges = new List<DagEdge>();
        foreach (var (key, box) in boxes)
        {
            foreach (var need in needs[key])
            {
                edges.Add(new DagEdge(need, key, Curve(boxes[need], box)));
            }
        }
        var columns = boxes.Count == 0 ? 0 : boxes.Values.Max(b => b.Column) + 1;
        var width = columns == 0 ? 0 : columns * BoxWidth + (columns - 1) * ColumnGap;
        return new DagPicture(width, height, [.. boxes.Values], edges);
    }

    /// <summary>The longest path of needs to the job; a cycle (refused by the parser anyway) is cut where it closes.</summary>
    private static int DepthOf(string key, Dictionary<string, List<string>> needs, Dictionary<string, int> depth, HashSet<string> visiting)
    {
        if (depth.TryGetValue(key, out var known)) return known;
        if (!visiting.Add(key)) return 0;
        var own = 0;
        foreach (var need in needs[key])
        {
            own = Math.Max(own, DepthOf(need, needs, depth, visiting) + 1);
        }
        visiting.Remove(key);
        depth[key] = own;
        return own;
    }

    private static string Curve(DagBox from, DagBox to)
    {
        var inv = CultureInfo.InvariantCulture;
        int x1 = from.X + BoxWidth, y1 = from.AnchorY, x2 = to.X, y2 = to.AnchorY;
        var bend = ColumnGap / 2;
        return string.Create(inv, $"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}");
    }
}
