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
        builder.Services.AddBuildServerModules(builder.Configuration);

        var app = builder.Build();
        // Load (or create) the HTTPS certificate now, so a bad one stops the start before anything else runs.
        app.Services.GetRequiredService<IServerCertificate>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/healthz", () => "ok").AllowAnonymous().ExcludeFromDescription();
        app.MapBuildServerModules();
        return app;
    }
}
