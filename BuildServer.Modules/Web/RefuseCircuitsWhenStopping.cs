using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace BuildServer.Modules.Web;

/// <summary>
/// Once the server is stopping, a browser's new connection to a circuit (<c>/_blazor</c>) is refused with 503. When the
/// host stops, SignalR closes the open circuits' connections (on <see cref="IHostApplicationLifetime.ApplicationStopping"/>)
/// before Kestrel stops accepting; an open page reconnects at once, and a connection accepted in between was held open
/// until the host's shutdown timeout (30 s), so a graceful stop with a page open took that long (dotnet/aspnetcore#58947).
/// Refused, the page tries again later and, finding its circuit gone on the restarted server, reloads itself.
/// </summary>
internal sealed class RefuseCircuitsWhenStopping(IHostApplicationLifetime lifetime) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            if (lifetime.ApplicationStopping.IsCancellationRequested && context.Request.Path.StartsWithSegments("/_blazor"))
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }
            await nextMiddleware(context);
        });
        next(app);
    };
}
