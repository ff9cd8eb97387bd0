using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Projects;

/// <summary>What other modules may know about a project.</summary>
public sealed record ProjectInfo(long Id, string Name, string Organization, string? PipelinePath, string? RepositoryUrl);

/// <summary>The Projects module's contract: look a project up by id or by name.</summary>
public interface IProjectDirectory
{
    Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken);
}

/// <summary>Lookups are cached briefly: every trigger and every claim asks, and projects rarely change
/// (a project cannot be renamed or deleted yet; when it can, the change must evict its entries).</summary>
internal sealed class ProjectDirectory(BuildDb db, IMemoryCache cache) : IProjectDirectory
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    public async Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(("project", idOrName), out ProjectInfo? cached))
        {
            return cached;
        }
        var found = await LoadAsync(idOrName, cancellationToken);
        if (found is not null)
        {
            cache.Set(("project", idOrName), found, CacheFor);
        }
        return found;
    }

    private async Task<ProjectInfo?> LoadAsync(string idOrName, CancellationToken cancellationToken)
    {
        var query = db.Set<Project>().AsNoTracking();
        query = long.TryParse(idOrName, out var id) ? query.Where(p => p.Id == id) : query.Where(p => p.Name == idOrName);
        return await query
            .Select(p => new ProjectInfo(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl))
            .FirstOrDefaultAsync(cancellationToken);
    }
}
