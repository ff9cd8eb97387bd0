using BuildServer.Modules.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Projects;

/// <summary>What other modules may know about an organisation.</summary>
public sealed record OrganizationInfo(long Id, string Name);

/// <summary>The Projects module's contract for organisations: look one up by id or by name, or list them.</summary>
public interface IOrganizationDirectory
{
    Task<OrganizationInfo?> FindAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>Every organisation, by name; read now, not cached.</summary>
    Task<IReadOnlyList<OrganizationInfo>> ListAsync(CancellationToken cancellationToken);
}

/// <summary>Found organisations are cached briefly: an organisation cannot be renamed or deleted.</summary>
internal sealed class OrganizationDirectory(BuildDb db, IMemoryCache cache) : IOrganizationDirectory
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    public async Task<OrganizationInfo?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(("organization", idOrName), out OrganizationInfo? cached)) return cached;
        var query = db.Set<Organization>().AsNoTracking();
        query = long.TryParse(idOrName, out var id) ? query.Where(o => o.Id == id) : query.Where(o => o.Name == idOrName);
        var found = await query.Select(o => new OrganizationInfo(o.Id, o.Name)).FirstOrDefaultAsync(cancellationToken);
        if (found is not null) cache.Set(("organization", idOrName), found, CacheFor);
        return found;
    }

    public async Task<IReadOnlyList<OrganizationInfo>> ListAsync(CancellationToken cancellationToken) =>
        await db.Set<Organization>().AsNoTracking().OrderBy(o => o.Name).Select(o => new OrganizationInfo(o.Id, o.Name)).ToListAsync(cancellationToken);
}
