using BuildServer.Modules.Hosting;
using BuildServer.Modules.Security.Users;
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
        // The API keeps its bearer tokens; the web UI signs in with a cookie (UiCookie.Select decides per request).
        services.AddAuthentication(UiCookie.SelectorName)
            .AddPolicyScheme(UiCookie.SelectorName, null, o => o.ForwardDefaultSelector = UiCookie.Select)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthentication>(ApiTokenAuthentication.SchemeName, null)
            .AddCookie(UiCookie.SchemeName, UiCookie.Configure);
        // Every endpoint needs an authenticated caller unless it opts out explicitly (/healthz, the sign-in pages).
        var authorization = services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        OrgPolicies.Add(authorization);
        services.AddScoped<IAuthorizationHandler, OrgRoleHandler>();
        services.AddScoped<IAuthorizationHandler, ServerAdminHandler>();
        services.AddSingleton<Audit.IAdminLog, Audit.AdminLog>();
        services.AddScoped<ApiTokens>();
        services.AddScoped<UserAdministration>();
        services.AddScoped<UserAccounts>();
        services.AddSingleton<SignInThrottle>();
        services.AddScoped<IOrgAccess, OrgAccess>();
        services.AddScoped<IUserDirectory, UserDirectory>();
        services.AddHostedService<BootstrapAdminToken>();
    }

    public void ConfigureModel(ModelBuilder model)
    {
        ApiToken.Configure(model);
        User.Configure(model);
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        TokensEndpoints.Map(endpoints);
        UsersEndpoints.Map(endpoints);
        SignOutEndpoint.Map(endpoints);
    }

    public IEnumerable<NavEntry> Navigation =>
    [
        new("Users", "admin/users", MudBlazor.Icons.Material.Filled.People, 91, ServerAdminOnly: true),
        new("API tokens", "admin/tokens", MudBlazor.Icons.Material.Filled.Key, 92, ServerAdminOnly: true),
    ];
}
