using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Https;

/// <summary>
/// The server's HTTPS endpoint: its certificate (configured, or self-signed in the data folder), Kestrel's
/// HTTPS defaults, and <c>GET /api/v1/server/info</c>. The addresses themselves are set by
/// <see cref="Listeners.UseBuildServerListeners"/> while the host is built.
/// </summary>
internal sealed class HttpsModule : IModule
{
    public string Name => "Https";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(_ => HttpsSettings.From(configuration));
        services.AddSingleton<IServerCertificate, ServerCertificate>();
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, KestrelHttpsDefaults>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGroup("/api/v1/server").WithTags("Server")
            .MapGet("/info", ServerInfo.Get).AllowAnonymous();
}

/// <summary>Every https:// address Kestrel binds presents the server certificate.</summary>
internal sealed class KestrelHttpsDefaults(IServerCertificate certificate) : IConfigureOptions<KestrelServerOptions>
{
    public void Configure(KestrelServerOptions options) =>
        options.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate.Certificate);
}
