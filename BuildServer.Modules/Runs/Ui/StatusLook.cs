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
}
