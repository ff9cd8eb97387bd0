using MudBlazor;

namespace BuildServer.Modules.Web.Layout;

/// <summary>The UI's colours: MudBlazor's defaults with status colours that read well in both modes, and the system font
/// stack (no web font is fetched: the server may have no route to the internet, and neither may its users).</summary>
internal static class AppTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#3f51b5",
            AppbarBackground = "#263238",
            Success = "#2e7d32",
            Error = "#c62828",
            Warning = "#b26a00",
            Info = "#1565c0",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#8c9eff",
            AppbarBackground = "#1e1e24",
            Success = "#66bb6a",
            Error = "#ef5350",
            Warning = "#ffa726",
            Info = "#64b5f6",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography
            {
                FontFamily = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
            },
        },
    };
}
