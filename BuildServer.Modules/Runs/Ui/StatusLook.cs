using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>How a status looks in the UI: its words, an icon (so it reads without colour) and a colour, the same in the
/// chip, the DAG and the attempts. The colours are MudBlazor's palette (light and dark).</summary>
internal static class StatusLook
{
    public static string Words(Status status) => status.ToWire().Replace('_', ' ');

    /// <summary>The CSS class that sets <c>--bs-status</c> to the status's palette colour (<c>wwwroot/runs.css</c>).</summary>
    public static string Css(Status status) => "bs-s-" + status.ToWire();

    public static Color Colour(Status status) => status switch
    {
        Status.Succeeded => Color.Success,
        Status.Failed or Status.TimedOut or Status.Lost => Color.Error,
        Status.Running => Color.Info,
        Status.Queued or Status.Pending => Color.Warning,
        _ => Color.Default,
    };

    /// <summary>A Material icon's SVG content.</summary>
    public static string Icon(Status status) => status switch
    {
        Status.Succeeded => Icons.Material.Filled.CheckCircle,
        Status.Failed => Icons.Material.Filled.Cancel,
        Status.TimedOut => Icons.Material.Filled.TimerOff,
        Status.Lost => Icons.Material.Filled.LinkOff,
        Status.Running => Icons.Material.Filled.PlayCircle,
        Status.Queued => Icons.Material.Filled.Schedule,
        Status.Pending => Icons.Material.Filled.HourglassEmpty,
        Status.Cancelled => Icons.Material.Filled.Block,
        _ => Icons.Material.Filled.SkipNext,
    };

    /// <summary>The status's icon alone, named for screen readers: a reference to its symbol in <c>StatusIcons</c>. Not a
    /// component (a 200-job run's page draws hundreds): a fragment of two elements.</summary>
    public static RenderFragment Glyph(Status status) => builder =>
    {
        builder.OpenElement(0, "svg");
        builder.AddAttribute(1, "class", "bs-status-icon");
        builder.AddAttribute(2, "viewBox", "0 0 24 24");
        builder.AddAttribute(3, "role", "img");
        builder.AddAttribute(4, "aria-label", Words(status));
        builder.AddAttribute(5, "focusable", "false");
        builder.OpenElement(6, "use");
        builder.AddAttribute(7, "href", "#bs-icon-" + status.ToWire());
        builder.CloseElement();
        builder.CloseElement();
    };

    /// <summary><see cref="Glyph"/> as HTML, for pieces of markup (DagMarkup).</summary>
    public static string GlyphHtml(Status status) =>
        $"<svg class=\"bs-status-icon\" role=\"img\" aria-label=\"{Words(status)}\"><use href=\"#bs-icon-{status.ToWire()}\"/></svg>";
}
