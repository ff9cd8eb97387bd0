using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

/// <summary>Creates a project: <c>POST /api/v1/projects</c> and the web UI's new-project form. An organisation named
/// but not there yet is created with it (the API's way; the form offers only existing ones); none means "default".</summary>
internal sealed class CreateProject(BuildDb db, TimeProvider time)
{
    public const string DefaultOrganization = "default";

    public async Task<ProjectEdit> CreateAsync(CreateProjectRequest request, CancellationToken ct)
    {
        var (defaultLane, maxLane, errors) = Validate(request);
        if (errors.Count > 0) return ProjectEdit.Invalid(errors);
        var name = request.Name!;
        if (await db.Set<Project>().AnyAsync(p => p.Name == name, ct)) return ProjectEdit.Conflict(name);
        var orgName = ProjectRules.NullIfBlank(request.Org) ?? DefaultOrganization;
        var now = time.GetUtcNow();
        var org = await db.Set<Organization>().FirstOrDefaultAsync(o => o.Name == orgName, ct)
                  ?? db.Add(new Organization { Name = orgName, CreatedAt = now }).Entity;
        var project = db.Add(new Project
        {
            Name = name,
            Organization = org,
            PipelinePath = ProjectRules.NullIfBlank(request.PipelinePath),
            RepositoryUrl = ProjectRules.NullIfBlank(request.RepositoryUrl),
            DefaultLane = defaultLane,
            MaxLane = maxLane,
            CreatedAt = now,
        }).Entity;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // A concurrent request created the same project (or organisation) first.
            db.ChangeTracker.Clear();
            return ProjectEdit.Conflict(name);
        }
        return ProjectEdit.Saved(project, org.Name);
    }

    private static (Lane? Default, Lane? Max, List<FieldError> Errors) Validate(CreateProjectRequest request)
    {
        var errors = new List<FieldError>();
        void Check(FieldError? error)
        {
            if (error is not null) errors.Add(error);
        }
        Check(ProjectRules.Name(request.Name));
        if (ProjectRules.NullIfBlank(request.Org) is { } org) Check(ProjectRules.OrgName(org));
        var (defaultLane, defaultError) = ProjectRules.Lane("defaultLane", request.DefaultLane);
        var (maxLane, maxError) = ProjectRules.Lane("maxLane", request.MaxLane);
        Check(defaultError);
        Check(maxError);
        if (defaultError is null && maxError is null) Check(ProjectRules.LaneOrder(defaultLane ?? Lane.Normal, maxLane ?? Lane.Critical));
        Check(ProjectRules.PipelinePath(request.PipelinePath));
        Check(ProjectRules.RepositoryUrl(request.RepositoryUrl));
        return (defaultLane, maxLane, errors);
    }
}
