using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Projects;

/// <summary>What other modules may know about a project.</summary>
/// <param name="DefaultLane">The lane of jobs whose workflow names no priority.</param>
/// <param name="MaxLane">The highest lane the project may use.</param>
public sealed record ProjectInfo(long Id, string Name, string Organization, string? PipelinePath, string? RepositoryUrl,
    long OrgId = 0, Lane DefaultLane = Lane.Normal, Lane MaxLane = Lane.Critical);

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
            .Select(p => new ProjectInfo(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.OrganizationId, p.DefaultLane ?? Lane.Normal, p.MaxLane ?? Lane.Critical))
            .FirstOrDefaultAsync(cancellationToken);
    }
}

/// <summary>The organisations' shares of the agents (quota and weight), for the scheduler.</summary>
public interface IOrganizationShares
{
    Task<IReadOnlyDictionary<long, OrgShare>> AllAsync(CancellationToken cancellationToken);

    /// <summary>One organisation's share as stored now (<see cref="OrgShare.Default"/> when unknown); read in the
    /// caller's transaction when it has one.</summary>
    Task<OrgShare> OfAsync(long orgId, CancellationToken cancellationToken);
}

internal sealed class OrganizationShares(BuildDb db) : IOrganizationShares
{
    public async Task<IReadOnlyDictionary<long, OrgShare>> AllAsync(CancellationToken cancellationToken) =>
        await db.Set<Organization>().AsNoTracking()
            .ToDictionaryAsync(o => o.Id, o => new OrgShare(o.MaxRunning, o.Weight), cancellationToken);

    public async Task<OrgShare> OfAsync(long orgId, CancellationToken cancellationToken) =>
        await db.Set<Organization>().AsNoTracking().Where(o => o.Id == orgId)
            .Select(o => new OrgShare(o.MaxRunning, o.Weight)).FirstOrDefaultAsync(cancellationToken) ?? OrgShare.Default;
}
