using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Hosting;

/// <summary>
/// The contract every module (built-in or plugin) implements. The host calls, in this order:
/// <see cref="ConfigureServices"/> once while the host is built, <see cref="ConfigureModel"/> whenever
/// EF Core builds the shared model (once per process and provider, and at design time for migrations),
/// and <see cref="MapEndpoints"/> once after the host is built. Implementations must be stateless.
/// A module's web pages are the routable Razor components (<c>@page</c>) of its assembly; the web UI finds them
/// there and lists its <see cref="Navigation"/> in the drawer (docs/adr/0010-web-ui.md).
/// </summary>
public interface IModule
{
    /// <summary>A short, stable name used in logs and the architecture table.</summary>
    string Name { get; }

    void ConfigureServices(IServiceCollection services, IConfiguration configuration);

    /// <summary>Adds this module's tables to the one shared database model.</summary>
    void ConfigureModel(ModelBuilder model) { }

    void MapEndpoints(IEndpointRouteBuilder endpoints) { }

    /// <summary>The links to this module's pages in the web UI's navigation drawer.</summary>
    IEnumerable<NavEntry> Navigation => [];
}
