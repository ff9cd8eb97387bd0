using BuildServer.Modules.Hosting;
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
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture));
        builder.Services.AddBuildServerModules(builder.Configuration);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/healthz", () => "ok").AllowAnonymous().ExcludeFromDescription();
        app.MapBuildServerModules();
        return app;
    }
}
