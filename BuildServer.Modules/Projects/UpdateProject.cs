using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Projects;

/// <summary>A change of a project's settings; a field left out (null) keeps its value.</summary>
/// <param name="Name">Only its current name: a project cannot be renamed (its runs and webhooks name it).</param>
/// <param name="Org">The organisation to move it to (name or id; it must exist). Its runs so far stay in the old one.</param>
/// <param name="PipelinePath">"" clears it.</param>
/// <param name="RepositoryUrl">"" clears it.</param>
public sealed record UpdateProjectRequest(
    string? Name = null, string? Org = null, string? PipelinePath = null, string? RepositoryUrl = null, string? DefaultLane = null, string? MaxLane = null);

/// <summary>
/// Changes a project's settings: <c>PATCH /api/v1/projects/{project}</c> and the web UI's settings page. A new default
/// or highest lane counts for jobs created from then on (a job's lane is fixed when it is created); a moved project's
/// new runs count against the new organisation's quota. This node's <see cref="IProjectDirectory"/> forgets the project
/// at once; another node's (PostgreSQL) within its cache time (30 s).
/// </summary>
internal sealed class UpdateProject(BuildDb db, IMemoryCache cache)
{
    public async Task<ProjectEdit> UpdateAsync(string idOrName, UpdateProjectRequest request, CancellationToken ct)
    {
        var project = await ProjectDirectory.Query(db.Set<Project>().Include(p => p.Organization), idOrName).FirstOrDefaultAsync(ct);
        if (project is null) return ProjectEdit.NotFound;
        var errors = new List<FieldError>();
        void Check(FieldError? error)
        {
            if (error is not null) errors.Add(error);
        }
        if (request.Name is not null && request.Name != project.Name)
        {
            errors.Add(new FieldError("name", "A project cannot be renamed."));
        }
        Organization? moveTo = null;
        if (request.Org is { } org)
        {
            moveTo = await OrgAsync(org, ct);
            if (moveTo is null) errors.Add(new FieldError("org", $"Unknown organisation '{org}'."));
        }
        var (defaultLane, defaultError) = ProjectRules.Lane("defaultLane", request.DefaultLane);
        var (maxLane, maxError) = ProjectRules.Lane("maxLane", request.MaxLane);
        Check(defaultError);
        Check(maxError);
        if (defaultError is null && maxError is null)
        {
            Check(ProjectRules.LaneOrder(defaultLane ?? project.DefaultLane ?? Lane.Normal, maxLane ?? project.MaxLane ?? Lane.Critical));
        }
        Check(ProjectRules.PipelinePath(request.PipelinePath));
        Check(ProjectRules.RepositoryUrl(request.RepositoryUrl));
        if (errors.Count > 0) return ProjectEdit.Invalid(errors);

        var before = ProjectDirectory.Keys(project.Id, project.Name);
        if (moveTo is not null)
        {
            project.OrganizationId = moveTo.Id;
            project.Organization = moveTo;
        }
        if (request.PipelinePath is not null) project.PipelinePath = ProjectRules.NullIfBlank(request.PipelinePath);
        if (request.RepositoryUrl is not null) project.RepositoryUrl = ProjectRules.NullIfBlank(request.RepositoryUrl);
        if (defaultLane is { } lane) project.DefaultLane = lane;
        if (maxLane is { } cap) project.MaxLane = cap;
        await db.SaveChangesAsync(ct);
        foreach (var key in before) cache.Remove(key);
        return ProjectEdit.Saved(project, project.Organization!.Name);
    }

    private Task<Organization?> OrgAsync(string org, CancellationToken ct) => long.TryParse(org, out var id)
        ? db.Set<Organization>().FirstOrDefaultAsync(o => o.Id == id, ct)
        : db.Set<Organization>().FirstOrDefaultAsync(o => o.Name == org, ct);
}
