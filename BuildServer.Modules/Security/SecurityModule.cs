using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Security;

internal sealed class SecurityModule : IModule
{
    public string Name => "Security";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddMemoryCache();
        // Keys (cookies, antiforgery, and later secrets) stay in the data folder, so backing it up keeps them.
        services.AddDataProtection().SetApplicationName("BuildServer")
            .PersistKeysToFileSystem(new DirectoryInfo(DataDirectory.FromConfiguration(configuration).Folder("keys")));
        services.AddAuthentication(ApiTokenAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthentication>(ApiTokenAuthentication.SchemeName, null);
        // Every endpoint needs an authenticated caller unless it opts out explicitly (only /healthz does).
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        services.AddHostedService<BootstrapAdminToken>();
    }

    public void ConfigureModel(ModelBuilder model) => ApiToken.Configure(model);

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => TokensEndpoints.Map(endpoints);
}
