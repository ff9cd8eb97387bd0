using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

/// <summary>What other modules may know about a project.</summary>
public sealed record ProjectInfo(long Id, string Name, string Organization, string? PipelinePath, string? RepositoryUrl);

/// <summary>The Projects module's contract: look a project up by id or by name.</summary>
public interface IProjectDirectory
{
    Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken);
}

internal sealed class ProjectDirectory(BuildDb db) : IProjectDirectory
{
    public async Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        var query = db.Set<Project>().AsNoTracking();
        query = long.TryParse(idOrName, out var id) ? query.Where(p => p.Id == id) : query.Where(p => p.Name == idOrName);
        return await query
            .Select(p => new ProjectInfo(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl))
            .FirstOrDefaultAsync(cancellationToken);
    }
}
