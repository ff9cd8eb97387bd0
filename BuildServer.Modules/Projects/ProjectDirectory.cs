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

/// <summary>The Projects module's contract: look a project up by id or by name, or list them.</summary>
public interface IProjectDirectory
{
    Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>The projects of these organisations (null: of every one), by name; read now, not cached.</summary>
    Task<IReadOnlyList<ProjectInfo>> ListAsync(IReadOnlySet<long>? orgIds, CancellationToken cancellationToken);
}

/// <summary>Lookups are cached briefly: every trigger and every claim asks, and projects rarely change. A change of a
/// project's settings evicts its entries (<see cref="Keys"/>); a project cannot be renamed or deleted.</summary>
internal sealed class ProjectDirectory(BuildDb db, IMemoryCache cache) : IProjectDirectory
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    public async Task<ProjectInfo?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        var key = Key(idOrName);
        if (cache.TryGetValue(key, out ProjectInfo? cached))
        {
            return cached;
        }
        var found = await Select(Query(db.Set<Project>().AsNoTracking(), idOrName)).FirstOrDefaultAsync(cancellationToken);
        if (found is not null)
        {
            cache.Set(key, found, CacheFor);
        }
        return found;
    }

    public async Task<IReadOnlyList<ProjectInfo>> ListAsync(IReadOnlySet<long>? orgIds, CancellationToken cancellationToken) =>
        await Select(db.Set<Project>().AsNoTracking().Where(p => orgIds == null || orgIds.Contains(p.OrganizationId)).OrderBy(p => p.Name))
            .ToListAsync(cancellationToken);

    /// <summary>A project by id (a number) or name.</summary>
    internal static IQueryable<Project> Query(IQueryable<Project> projects, string idOrName) =>
        long.TryParse(idOrName, out var id) ? projects.Where(p => p.Id == id) : projects.Where(p => p.Name == idOrName);

    /// <summary>The cache entries a project can have: one by id, one by name (however the id was written).</summary>
    internal static object[] Keys(long id, string name) => [("project-id", id), ("project-name", name)];

    private static object Key(string idOrName) =>
        long.TryParse(idOrName, out var id) ? ("project-id", id) : ("project-name", idOrName);

    private static IQueryable<ProjectInfo> Select(IQueryable<Project> projects) => projects.Select(p =>
        new ProjectInfo(p.Id, p.Name, p.Organization!.Name, p.PipelinePath, p.RepositoryUrl, p.OrganizationId, p.DefaultLane ?? Lane.Normal, p.MaxLane ?? Lane.Critical));
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
