using BuildServer.Modules.Hosting;
using BuildServer.Modules.Scheduling;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Agents;

internal sealed class AgentsModule : IModule
{
    public string Name => "Agents";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<BuiltInAgentOptions>(configuration.GetSection("Agent"));
        services.Configure<AgentsOptions>(configuration.GetSection("Agents"));
        services.AddScoped<IRunnerDirectory, RunnerDirectory>();
        services.AddScoped<AgentOrgNames>();
        services.AddScoped<AgentAdministration>();
        services.AddScoped<RegistrationTokens>();
        services.AddScoped<Ui.AgentBoard>();
        services.AddScoped<Protocol.AgentProtocol>();
        services.AddHostedService<Protocol.LeaseGraceAtStart>();
        services.AddSingleton<Protocol.HeartbeatWrites>();
        services.AddHostedService(sp => sp.GetRequiredService<Protocol.HeartbeatWrites>());
        services.AddHostedService<BuiltInAgent>();
        // A second scheme beside the API tokens' default one; only the agent endpoints ask for it.
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, AgentAuthentication>(AgentAuthentication.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(AgentAuthentication.PolicyName, p => p
            .AddAuthenticationSchemes(AgentAuthentication.SchemeName)
            .RequireAuthenticatedUser()
            .RequireRole(AgentAuthentication.Role));
    }

    public void ConfigureModel(ModelBuilder model)
    {
        Runner.Configure(model);
        RegistrationToken.Configure(model);
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        AgentsEndpoints.Map(endpoints);
        Ui.AgentsFromUi.Map(endpoints);
    }

    public IEnumerable<NavEntry> Navigation => [new("Agents", "agents", MudBlazor.Icons.Material.Filled.Dns, 30)];
}
