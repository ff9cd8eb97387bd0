using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>
/// The DAG's boxes and edges as HTML, one string per box and one for all edges. A Blazor page sends each element and
/// attribute of its tree as its own frame; a 200-job run drawn element by element made a render batch of half a
/// megabyte when its page connected. As markup, each box is one frame, and a live update re-sends only the boxes whose
/// HTML changed (the renderer compares markup by value). Every text from the run is HTML-encoded.
/// </summary>
internal static class DagMarkup
{
    /// <summary>Encodes what HTML gives a meaning to (&lt; &gt; &amp; quotes); other characters stay as they are.</summary>
    internal static readonly HtmlEncoder Html = HtmlEncoder.Create(UnicodeRanges.All);

    public static string Edges(DagPicture picture)
    {
        var html = new StringBuilder(64 + picture.Edges.Count * 120);
        html.Append(CultureInfo.InvariantCulture, $"<svg class=\"bs-dag-edges\" width=\"{picture.Width}\" height=\"{picture.Height}\" aria-hidden=\"true\" focusable=\"false\">");
        html.Append("<defs><marker id=\"bs-dag-arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\"/></marker></defs>");
        foreach (var edge in picture.Edges)
        {
            html.Append($"<path d=\"{edge.Path}\" data-from=\"{Html.Encode(edge.From)}\" data-to=\"{Html.Encode(edge.To)}\"/>");
        }
        return html.Append("</svg>").ToString();
    }

    /// <summary>A box: one job, or a matrix group (title, counts, its legs inside).</summary>
    public static string Box(DagBox box, DateTimeOffset now)
    {
        var html = new StringBuilder(box.IsGroup ? 400 + box.Jobs.Count * 360 : 420);
        var place = string.Create(CultureInfo.InvariantCulture, $"left:{box.X}px;top:{box.Y}px;width:{DagLayout.BoxWidth}px;height:{box.Height}px");
        var key = Html.Encode(box.Key);
        if (!box.IsGroup)
        {
            html.Append($"<div class=\"bs-dag-box\" style=\"{place}\" data-key=\"{key}\">");
            Node(html, box.Jobs[0], box.Jobs[0].Name, "", now);
            return html.Append("</div>").ToString();
        }
        html.Append(CultureInfo.InvariantCulture, $"<div class=\"bs-dag-box bs-dag-group\" style=\"{place}\" role=\"group\" aria-label=\"{key}: {box.Jobs.Count} matrix jobs\" data-test=\"dag-group\" data-key=\"{key}\">");
        html.Append($"<div class=\"bs-dag-group-title\"><span class=\"bs-dag-name\">{key}</span><span class=\"bs-dag-count\">{Html.Encode(Summary(box.Jobs))}</span></div>");
        foreach (var leg in box.Jobs)
        {
            Node(html, leg, LegName(box.Key, leg.Name), "bs-dag-leg", now);
        }
        return html.Append("</div>").ToString();
    }

    /// <summary>A job: a link to its log view, with its status's icon (named for screen readers), name and duration.</summary>
    private static void Node(StringBuilder html, JobView job, string name, string kind, DateTimeOffset now)
    {
        var status = job.Status.ToWire();
        html.Append(CultureInfo.InvariantCulture,
            $"<a class=\"bs-dag-job {kind} {StatusLook.Css(job.Status)}\" href=\"jobs/{job.Id}\" title=\"{Html.Encode(Title(job, now))}\" data-test=\"dag-job\" data-job-id=\"{job.Id}\" data-status=\"{status}\">");
        html.Append(StatusLook.GlyphHtml(job.Status));
        html.Append($"<span class=\"bs-dag-name\">{Html.Encode(name)}</span><span class=\"bs-dag-time\">{Html.Encode(JobTimes.Shown(job, now))}</span></a>");
    }

    private static string Title(JobView job, DateTimeOffset now) =>
        $"{job.Name}: {StatusLook.Words(job.Status)}{(JobTimes.Took(job, now) is { } took ? ", " + took : "")}{(job.StatusReason is { Length: > 0 } why ? " (" + why + ")" : "")}";

    /// <summary>A leg inside its group shows its matrix values only ("linux, 1" for "build (linux, 1)").</summary>
    internal static string LegName(string key, string name) =>
        name.StartsWith(key + " (", StringComparison.Ordinal) && name.EndsWith(')') ? name[(key.Length + 2)..^1] : name;

    /// <summary>"5 jobs · 1 failed · 2 running".</summary>
    internal static string Summary(IReadOnlyList<JobView> legs)
    {
        var parts = new List<string> { $"{legs.Count} jobs" };
        foreach (var status in (Status[])[Status.Failed, Status.TimedOut, Status.Running])
        {
            var count = legs.Count(l => l.Status == status);
            if (count > 0) parts.Add($"{count} {StatusLook.Words(status)}");
        }
        return string.Join(" · ", parts);
    }
}
