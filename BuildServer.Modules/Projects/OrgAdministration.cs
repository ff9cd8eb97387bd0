using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Scheduling;
using BuildServer.Modules.Security.Audit;
using BuildServer.Modules.Security.Users;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects;

/// <summary>
/// Organisations as the orgs API and the admin page manage them: the same rules for both (a name as projects'
/// names, a quota of running jobs 0–100000 with 0 for no limit, a weight in (0, 1000]). A change reaches the
/// scheduler's view at once (a raised quota may start waiting jobs now). Callers have checked that <c>actor</c> is an
/// admin; every change is recorded in the admin log.
/// </summary>
internal sealed class OrgAdministration(BuildDb db, WriteGate gate, ReadyAttempts ready, IDispatchSignal dispatch, TimeProvider time, IAdminLog log)
{
    public const int MaxQuota = 100_000;
    public const double MaxWeight = 1000;
    public const string QuotaRule = "Enter 0 (no limit) to 100000: the most jobs of the organisation that run at once.";
    public const string WeightRule = "The weight must be greater than 0 and at most 1000.";

    public Task<OrgResponse[]> ListAsync(CancellationToken ct) =>
        db.Set<Organization>().AsNoTracking().OrderBy(o => o.Name)
            .Select(o => new OrgResponse(o.Id, o.Name, o.MaxRunning, o.Weight, o.CreatedAt)).ToArrayAsync(ct);

    /// <summary>Running jobs per organisation id, from the scheduler's view (no query).</summary>
    public IReadOnlyDictionary<long, int> RunningNow() => ready.Counts().RunningPerOrg;

    public static FieldError? ValidateName(string? name) =>
        string.IsNullOrWhiteSpace(name) || !ProjectRules.IsValidName(name) ? new FieldError("name", ProjectRules.OrgNameRule) : null;

    public static FieldError? ValidateShare(int? maxRunning, double? weight)
    {
        if (maxRunning is < 0 or > MaxQuota) return new FieldError("maxRunning", QuotaRule);
        if (weight is { } w && (double.IsNaN(w) || w <= 0 || w > MaxWeight)) return new FieldError("weight", WeightRule);
        return null;
    }

    public async Task<Change<OrgResponse>> CreateAsync(OrgRequest request, ClaimsPrincipal actor, CancellationToken ct)
    {
        if ((ValidateName(request.Name) ?? ValidateShare(request.MaxRunning, request.Weight)) is { } invalid)
        {
            return Change.Invalid<OrgResponse>(invalid);
        }
        var taken = Change.Conflict<OrgResponse>("name", $"An organisation named '{request.Name}' already exists.");
        var org = new Organization
        {
            Name = request.Name!,
            MaxRunning = request.MaxRunning ?? 0,
            Weight = request.Weight ?? 1,
            CreatedAt = time.GetUtcNow(),
        };
        await using (await gate.EnterAsync(ct))
        {
            if (await db.Set<Organization>().AnyAsync(o => o.Name == request.Name, ct)) return taken;
            db.Add(org);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                return taken; // another request created it in between
            }
        }
        ready.SetShare(org.Id, new OrgShare(org.MaxRunning, org.Weight));
        log.Record(actor, "created organisation", Describe(org), Share(org));
        return Change.Done<OrgResponse>(Response(org));
    }

    /// <param name="org">Its id or name.</param>
    public async Task<Change<OrgResponse>> UpdateAsync(string org, OrgRequest request, ClaimsPrincipal actor, CancellationToken ct)
    {
        if (request.Name is not null) return Change.Invalid<OrgResponse>("name", "An organisation cannot be renamed.");
        if (ValidateShare(request.MaxRunning, request.Weight) is { } invalid) return Change.Invalid<OrgResponse>(invalid);
        Organization? found;
        await using (await gate.EnterAsync(ct))
        {
            found = await Find(org).FirstOrDefaultAsync(ct);
            if (found is null) return Change.NotFound<OrgResponse>();
            found.MaxRunning = request.MaxRunning ?? found.MaxRunning;
            found.Weight = request.Weight ?? found.Weight;
            await db.SaveChangesAsync(ct);
        }
        ready.SetShare(found.Id, new OrgShare(found.MaxRunning, found.Weight));
        dispatch.Notify(); // a raised quota may let waiting jobs start now
        log.Record(actor, "changed organisation", Describe(found), Share(found));
        return Change.Done<OrgResponse>(Response(found));
    }

    public IQueryable<Organization> Find(string org) =>
        long.TryParse(org, out var id) ? db.Set<Organization>().Where(o => o.Id == id) : db.Set<Organization>().Where(o => o.Name == org);

    private static OrgResponse Response(Organization o) => new(o.Id, o.Name, o.MaxRunning, o.Weight, o.CreatedAt);

    private static string Describe(Organization o) => string.Create(CultureInfo.InvariantCulture, $"'{o.Name}' (id {o.Id})");

    private static string Share(Organization o) =>
        string.Create(CultureInfo.InvariantCulture, $"quota {(o.MaxRunning == 0 ? "none" : o.MaxRunning.ToString(CultureInfo.InvariantCulture))}, weight {o.Weight}");
}

/// <summary>The Projects module's answer to Security's <see cref="IOrganizationList"/>.</summary>
internal sealed class OrganizationList(BuildDb db) : IOrganizationList
{
    public async Task<IReadOnlyList<OrgName>> ListAsync(CancellationToken cancellationToken) =>
        await db.Set<Organization>().AsNoTracking().OrderBy(o => o.Name).Select(o => new OrgName(o.Id, o.Name)).ToListAsync(cancellationToken);
}
