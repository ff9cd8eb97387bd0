using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

/// <param name="DefaultLane">The lane of its jobs when the workflow names no priority: critical, high, normal (default) or low.</param>
/// <param name="MaxLane">The highest lane its jobs may use (admins cap a project with it).</param>
public sealed record CreateProjectRequest(string? Name, string? Org, string? PipelinePath, string? RepositoryUrl, string? DefaultLane = null, string? MaxLane = null);

public sealed record ProjectResponse(long Id, string Name, string Org, string? PipelinePath, string? RepositoryUrl, DateTimeOffset CreatedAt, string DefaultLane = "normal", string MaxLane = "critical");

/// <summary>Projects: anyone signed in may read them; admins create them and change their settings. The rules of
/// each field are <see cref="ProjectRules"/>', which the web UI's forms ask too.</summary>
internal static class ProjectsEndpoints
{
    public const string DefaultOrganization = CreateProject.DefaultOrganization;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/projects", "Projects");
        group.MapGet("/", List);
        group.MapGet("/{project}", Get);
        group.MapPost("/", Create).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapPatch("/{project}", Update).RequireAuthorization(p => p.RequireRole(Roles.Admin));
    }

    private static async Task<Ok<ProjectResponse[]>> List(BuildDb db, CancellationToken ct) =>
        TypedResults.Ok(await db.Set<Project>().AsNoTracking().OrderBy(p => p.Name)
            .Select(p => new ProjectResponse(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.CreatedAt, (p.DefaultLane ?? Lane.Normal).ToWire(), (p.MaxLane ?? Lane.Critical).ToWire()))
            .ToArrayAsync(ct));

    private static async Task<Results<Ok<ProjectResponse>, ProblemHttpResult>> Get(string project, BuildDb db, CancellationToken ct)
    {
        var found = await ProjectDirectory.Query(db.Set<Project>().AsNoTracking(), project)
            .Select(p => new ProjectResponse(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.CreatedAt, (p.DefaultLane ?? Lane.Normal).ToWire(), (p.MaxLane ?? Lane.Critical).ToWire()))
            .FirstOrDefaultAsync(ct);
        return found is null ? Problems.NotFound("Project", project) : TypedResults.Ok(found);
    }

    private static async Task<Results<Created<ProjectResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateProjectRequest request, CreateProject create, CancellationToken ct)
    {
        var edit = await create.CreateAsync(request, ct);
        return edit.Outcome switch
        {
            EditOutcome.Saved => TypedResults.Created($"/api/v1/projects/{edit.Project!.Id}", edit.Project),
            EditOutcome.Conflict => Problems.Conflict(edit.Errors[0].Message),
            _ => Invalid(edit),
        };
    }

    /// <summary>200 with the project as stored; 400 naming every wrong field (nothing stored); 404 for an unknown project.</summary>
    private static async Task<Results<Ok<ProjectResponse>, ValidationProblem, ProblemHttpResult>> Update(
        string project, UpdateProjectRequest request, UpdateProject update, CancellationToken ct)
    {
        var edit = await update.UpdateAsync(project, request, ct);
        return edit.Outcome switch
        {
            EditOutcome.Saved => TypedResults.Ok(edit.Project!),
            EditOutcome.NotFound => Problems.NotFound("Project", project),
            _ => Invalid(edit),
        };
    }

    private static ValidationProblem Invalid(ProjectEdit edit) =>
        TypedResults.ValidationProblem(edit.Errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));
}
