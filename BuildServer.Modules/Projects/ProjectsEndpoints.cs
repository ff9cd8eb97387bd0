using System.Text.RegularExpressions;
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

internal static partial class ProjectsEndpoints
{
    public const string DefaultOrganization = "default";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex NamePattern();

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/projects", "Projects");
        group.MapGet("/", List);
        group.MapGet("/{project}", Get);
        group.MapPost("/", Create).RequireAuthorization(p => p.RequireRole(Roles.Admin));
    }

    private static async Task<Ok<ProjectResponse[]>> List(BuildDb db, CancellationToken ct) =>
        TypedResults.Ok(await db.Set<Project>().AsNoTracking().OrderBy(p => p.Name)
            .Select(p => new ProjectResponse(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.CreatedAt, (p.DefaultLane ?? Lane.Normal).ToWire(), (p.MaxLane ?? Lane.Critical).ToWire()))
            .ToArrayAsync(ct));

    private static async Task<Results<Ok<ProjectResponse>, ProblemHttpResult>> Get(string project, BuildDb db, CancellationToken ct)
    {
        var query = db.Set<Project>().AsNoTracking();
        query = long.TryParse(project, out var id) ? query.Where(p => p.Id == id) : query.Where(p => p.Name == project);
        var found = await query
            .Select(p => new ProjectResponse(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.CreatedAt, (p.DefaultLane ?? Lane.Normal).ToWire(), (p.MaxLane ?? Lane.Critical).ToWire()))
            .FirstOrDefaultAsync(ct);
        return found is null ? Problems.NotFound("Project", project) : TypedResults.Ok(found);
    }

    private static async Task<Results<Created<ProjectResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateProjectRequest request, BuildDb db, TimeProvider time, CancellationToken ct)
    {
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }
        var orgName = string.IsNullOrWhiteSpace(request.Org) ? DefaultOrganization : request.Org.Trim();
        if (await db.Set<Project>().AnyAsync(p => p.Name == request.Name, ct))
        {
            return Problems.Conflict($"A project named '{request.Name}' already exists.");
        }
        var now = time.GetUtcNow();
        var org = await db.Set<Organization>().FirstOrDefaultAsync(o => o.Name == orgName, ct)
                  ?? db.Add(new Organization { Name = orgName, CreatedAt = now }).Entity;
        var project = new Project
        {
            Name = request.Name!,
            Organization = org,
            PipelinePath = NullIfBlank(request.PipelinePath),
            RepositoryUrl = NullIfBlank(request.RepositoryUrl),
            DefaultLane = Lanes.TryParse(request.DefaultLane, out var lane) ? lane : null,
            MaxLane = Lanes.TryParse(request.MaxLane, out var cap) ? cap : null,
            CreatedAt = now,
        };
        db.Add(project);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // A concurrent request created the same project (or organization) first.
            return Problems.Conflict($"A project named '{request.Name}' already exists.");
        }
        return TypedResults.Created($"/api/v1/projects/{project.Id}",
            new ProjectResponse(project.Id, project.Name, org.Name, project.PipelinePath, project.RepositoryUrl, project.CreatedAt,
                (project.DefaultLane ?? Lane.Normal).ToWire(), (project.MaxLane ?? Lane.Critical).ToWire()));
    }

    private static ValidationProblem? Validate(CreateProjectRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || !IsValidName(request.Name))
        {
            return Problems.Field("name",
                "A project name is 1-100 characters of letters, digits, '.', '_' or '-', starts with a letter or digit, and is not a number.");
        }
        if (request.Org is { Length: > 0 } org && !IsValidName(org))
        {
            return Problems.Field("org", OrgNameRule);
        }
        foreach (var (field, value) in new[] { ("defaultLane", request.DefaultLane), ("maxLane", request.MaxLane) })
        {
            if (value is not null && !Lanes.TryParse(value, out _))
            {
                return Problems.Field(field, $"Unknown lane '{value}'; the lanes are: critical, high, normal, low.");
            }
        }
        if (request.PipelinePath is { Length: > 1000 })
        {
            return Problems.Field("pipelinePath", "The pipeline path is longer than 1000 characters.");
        }
        if (request.RepositoryUrl is { Length: > 0 } url && (url.Length > 2000 || !Uri.TryCreate(url, UriKind.Absolute, out _)))
        {
            return Problems.Field("repositoryUrl", "The repository URL must be an absolute URL of at most 2000 characters.");
        }
        return null;
    }

    public const string OrgNameRule =
        "An organisation name is 1-100 characters of letters, digits, '.', '_' or '-', starts with a letter or digit, and is not a number.";

    /// <summary>Project and organisation names: letters, digits, '.', '_', '-', not a number (ids are).</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name) && !long.TryParse(name, out _);

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
