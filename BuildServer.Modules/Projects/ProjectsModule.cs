using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Modules.Projects;

internal sealed class ProjectsModule : IModule
{
    public string Name => "Projects";

    public void ConfigureServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddMemoryCache();
        services.AddScoped<IProjectDirectory, ProjectDirectory>();
        services.AddScoped<IOrganizationShares, OrganizationShares>();
        services.AddScoped<IOrganizationDirectory, OrganizationDirectory>();
        services.AddScoped<OrgAdministration>();
        services.AddScoped<Security.Users.IOrganizationList, OrganizationList>();
        services.AddScoped<CreateProject>();
        services.AddScoped<UpdateProject>();
    }

    public void ConfigureModel(ModelBuilder model) => Project.Configure(model);

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        ProjectsEndpoints.Map(endpoints);
        OrgsEndpoints.Map(endpoints);
    }

    public IEnumerable<NavEntry> Navigation =>
    [
        new("Projects", "projects", MudBlazor.Icons.Material.Filled.Folder, 10),
        new("Organisations", "admin/orgs", MudBlazor.Icons.Material.Filled.CorporateFare, 90, ServerAdminOnly: true),
    ];
}
