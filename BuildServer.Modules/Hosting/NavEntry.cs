namespace BuildServer.Modules.Hosting;

/// <summary>A link a module puts in the web UI's navigation drawer.</summary>
/// <param name="Title">The link's text.</param>
/// <param name="Href">The page's address, relative to the site (<c>""</c> is the dashboard, <c>"queue"</c>…).</param>
/// <param name="Icon">An SVG icon (MudBlazor's <c>Icons.Material…</c> strings are these).</param>
/// <param name="Order">Position in the drawer, smallest first.</param>
/// <param name="ServerAdminOnly">Shown only to server admins (their pages refuse others too).</param>
public sealed record NavEntry(string Title, string Href, string Icon, int Order, bool ServerAdminOnly = false);
