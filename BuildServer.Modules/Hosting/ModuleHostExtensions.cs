using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Hosting;

public static class ModuleHostExtensions
{
    /// <summary>Registers the shared services and every built-in module's services.</summary>
    public static IServiceCollection AddBuildServerModules(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(DataDirectory.FromConfiguration(configuration));
        services.AddBuildServerProblemDetails();
        services.ConfigureHttpJsonOptions(o => JsonDefaults.Apply(o.SerializerOptions));
        foreach (var module in BuiltInModules.All)
        {
            module.ConfigureServices(services, configuration);
        }
        return services;
    }

    /// <summary>Maps every built-in module's endpoints; the API lives under <c>/api/v1</c>.</summary>
    public static IEndpointRouteBuilder MapBuildServerModules(this IEndpointRouteBuilder endpoints)
    {
        foreach (var module in BuiltInModules.All)
        {
            module.MapEndpoints(endpoints);
        }
        return endpoints;
    }

    public static RouteGroupBuilder MapApi(this IEndpointRouteBuilder endpoints, string prefix, string tag) =>
        endpoints.MapGroup("/api/v1" + prefix).WithTags(tag).RequireAuthorization();
}
