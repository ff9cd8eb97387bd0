using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace BuildServer.Modules.Web;

/// <summary>
/// The web UI's shell: Blazor with interactive server rendering and MudBlazor, the layout (app bar, navigation drawer
/// built from every module's <see cref="IModule.Navigation"/>, dark mode), the status pages, and the shared
/// components (relative times, durations). Pages themselves belong to the modules whose data they show.
/// </summary>
internal sealed class WebModule : IModule
{
    public string Name => "Web";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddCascadingAuthenticationState();
        services.AddMudServices();
        services.AddTransient<IStartupFilter, RefuseCircuitsWhenStopping>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        // blazor.web.js, MudBlazor's and the modules' files; anyone may fetch them (the sign-in page uses them).
        endpoints.MapStaticAssets().AllowAnonymous();
        endpoints.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode()
            .AddAdditionalAssemblies([.. ModulePages.Assemblies]);
    }
}

/// <summary>Where the pages are: every module's assembly (a plugin's too, once plugins are modules).</summary>
internal static class ModulePages
{
    public static IEnumerable<System.Reflection.Assembly> Assemblies =>
        BuiltInModules.All.Select(m => m.GetType().Assembly).Distinct().Where(a => a != typeof(App).Assembly);

    public static IEnumerable<NavEntry> Navigation => BuiltInModules.All.SelectMany(m => m.Navigation).OrderBy(e => e.Order);
}
