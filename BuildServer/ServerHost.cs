using BuildServer.Modules.Hosting;
using BuildServer.Modules.Https;
using Serilog;

namespace BuildServer;

/// <summary>Builds the web host: configuration, Serilog, the modules, the middleware.</summary>
internal static class ServerHost
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json is read from beside the binary (the repository root's copy, for `dotnet run`).
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.AddSerilog((services, logger) => logger
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            // A port in use: `serve` prints the one readable line itself; the host's stack trace adds nothing.
            .Filter.ByExcluding(e => e.Exception is IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException })
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture));
        builder.WebHost.UseBuildServerListeners(builder.Configuration);
        // The UI's static files (MudBlazor's, the modules'): from where they are built in any environment (the tests run
        // the built server as Production); a published server has them in wwwroot beside the binary instead.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddBuildServerModules(builder.Configuration);

        var app = builder.Build();
        // Load (or create) the HTTPS certificate now, so a bad one stops the start before anything else runs.
        app.Services.GetRequiredService<IServerCertificate>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The web UI answers an unknown address (and a refused form) with its own page; the API keeps problem details.
        app.UseWhen(c => !c.Request.Path.StartsWithSegments("/api") && !c.Request.Path.StartsWithSegments("/hangfire"),
            ui => ui.UseStatusCodePagesWithReExecute("/status/{0}", createScopeForStatusCodePages: true));
        // Routing after the status pages, so that a re-executed request (/status/404) is routed to its page.
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapGet("/healthz", () => "ok").AllowAnonymous().ExcludeFromDescription();
        app.MapBuildServerModules();
        return app;
    }
}
