using System.Data;
using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Security.Users;

/// <summary>A user as an administrator sees them: never the password hash.</summary>
public sealed record UserSummary(long Id, string UserName, bool ServerAdmin, DateTimeOffset CreatedAt, IReadOnlyDictionary<long, OrgRole> Roles);

/// <summary>
/// Users as the users API and the admin page manage them: list, create, change the server-admin flag and the roles,
/// reset a password, remove. The same rules for both (<see cref="AccountRules"/>, roles only in organisations that
/// exist); the server always keeps a server admin: taking the flag from the last one, or removing them, is refused
/// inside one serializable transaction (so two admins demoting each other at once cannot both succeed). Callers have
/// checked that <c>actor</c> is a server admin; every change is recorded in the admin log.
/// </summary>
internal sealed class UserAdministration(BuildDb db, WriteGate gate, UserAccounts accounts, IOrganizationList orgs, IMemoryCache cache, IAdminLog log)
{
    public const string LastAdminRule = "is the last server admin: make another user a server admin first.";

    public async Task<IReadOnlyList<UserSummary>> ListAsync(CancellationToken ct) =>
        (await db.Set<User>().AsNoTracking().Include(u => u.Memberships).OrderBy(u => u.NormalizedUserName).ToListAsync(ct))
        .Select(Summary).ToList();

    public async Task<UserSummary?> FindAsync(long id, CancellationToken ct) =>
        await db.Set<User>().AsNoTracking().Include(u => u.Memberships).FirstOrDefaultAsync(u => u.Id == id, ct) is { } user ? Summary(user) : null;

    public async Task<Change<UserSummary>> CreateAsync(string? userName, string? password, bool serverAdmin, IReadOnlyDictionary<long, OrgRole> roles,
        ClaimsPrincipal actor, CancellationToken ct)
    {
        if (!AccountRules.IsUserName(userName)) return Change.Invalid<UserSummary>("userName", AccountRules.UserNameRule);
        if (!AccountRules.IsPassword(password)) return Change.Invalid<UserSummary>("password", AccountRules.PasswordRule);
        var names = await OrgNamesAsync(ct);
        if (UnknownOrg(roles.Keys, names) is { } unknown) return unknown;
        var created = await accounts.CreateAsync(userName!, password!, serverAdmin, roles, ct);
        if (created is null) return Change.Invalid<UserSummary>("userName", $"The user name '{userName!.Trim()}' is taken.");
        log.Record(actor, "created user", Describe(created.UserName, created.Id),
            $"server admin {(serverAdmin ? "yes" : "no")}; roles {RolesText(roles.ToDictionary(r => r.Key, r => (OrgRole?)r.Value), names)}");
        return await FindAsync(created.Id, ct) is { } user ? Change.Done(user) : Change.NotFound<UserSummary>();
    }

    /// <param name="roles">The roles to set, per organisation; a null role removes the user from that organisation.
    /// Organisations not named keep the user's role.</param>
    public async Task<Change<UserSummary>> UpdateAsync(long id, bool? serverAdmin, IReadOnlyDictionary<long, OrgRole?>? roles, ClaimsPrincipal actor, CancellationToken ct)
    {
        var names = await OrgNamesAsync(ct);
        if (roles is not null && UnknownOrg(roles.Where(r => r.Value is not null).Select(r => r.Key), names) is { } unknown) return unknown;
        string? changes = null;
        var outcome = await SerializableAsync(async () =>
        {
            var user = await db.Set<User>().Include(u => u.Memberships).FirstOrDefaultAsync(u => u.Id == id, ct);
            if (user is null) return Change.NotFound<UserSummary>();
            if (serverAdmin == false && user.IsServerAdmin && !await db.Set<User>().AnyAsync(u => u.IsServerAdmin && u.Id != id, ct))
            {
                return Change.Conflict<UserSummary>("serverAdmin", $"'{user.UserName}' {LastAdminRule}");
            }
            var said = new List<string>();
            if (serverAdmin is { } admin && admin != user.IsServerAdmin) said.Add($"server admin {(admin ? "yes" : "no")}");
            user.IsServerAdmin = serverAdmin ?? user.IsServerAdmin;
            foreach (var (orgId, role) in roles ?? new Dictionary<long, OrgRole?>())
            {
                var membership = user.Memberships.FirstOrDefault(m => m.OrgId == orgId);
                if (membership?.Role == role) continue;
                if (membership is not null) user.Memberships.Remove(membership);
                if (role is { } given) user.Memberships.Add(new OrgMembership { OrgId = orgId, Role = given });
                said.Add($"{OrgText(orgId, names)} {role?.ToWire() ?? "none"}");
            }
            await db.SaveChangesAsync(ct);
            changes = said.Count == 0 ? "no change" : string.Join("; ", said);
            return Change.Done<UserSummary>(Summary(user));
        }, ct);
        if (outcome.Value is { } changed) log.Record(actor, "changed user", Describe(changed.UserName, changed.Id), changes);
        return outcome;
    }

    public async Task<Change<UserSummary>> ResetPasswordAsync(long id, string? password, ClaimsPrincipal actor, CancellationToken ct)
    {
        if (!AccountRules.IsPassword(password)) return Change.Invalid<UserSummary>("password", AccountRules.PasswordRule);
        if (await FindAsync(id, ct) is not { } user || !await accounts.SetPasswordAsync(id, password!, ct)) return Change.NotFound<UserSummary>();
        log.Record(actor, "reset the password of user", Describe(user.UserName, id));
        return Change.Done<UserSummary>(user);
    }

    public async Task<Change<UserSummary>> DeleteAsync(long id, ClaimsPrincipal actor, CancellationToken ct)
    {
        if (UserClaims.UserId(actor) == id) return Change.Conflict<UserSummary>("user", "You cannot remove your own account: another server admin can.");
        var outcome = await SerializableAsync(async () =>
        {
            var user = await db.Set<User>().Include(u => u.Memberships).FirstOrDefaultAsync(u => u.Id == id, ct);
            if (user is null) return Change.NotFound<UserSummary>();
            if (user.IsServerAdmin && !await db.Set<User>().AnyAsync(u => u.IsServerAdmin && u.Id != id, ct))
            {
                return Change.Conflict<UserSummary>("user", $"'{user.UserName}' {LastAdminRule}");
            }
            db.Remove(user);
            await db.SaveChangesAsync(ct);
            return Change.Done<UserSummary>(Summary(user));
        }, ct);
        if (outcome.Value is { } removed)
        {
            RemovedUsers.Forget(cache, removed.Id);
            log.Record(actor, "removed user", Describe(removed.UserName, removed.Id));
        }
        return outcome;
    }

    /// <summary>One write transaction that reads the server admins and changes one: serializable, so that PostgreSQL
    /// refuses one of two that race (tried again, it then sees the other's change); SQLite has one writer anyway.</summary>
    private async Task<Change<UserSummary>> SerializableAsync(Func<Task<Change<UserSummary>>> change, CancellationToken ct)
    {
        const int Attempts = 10;
        await using (await gate.EnterAsync(ct))
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var transaction = await db.Database.BeginTransactionAsync(IsolationLevel.Serializable, ct);
                    var outcome = await change();
                    if (outcome.Outcome == ChangeOutcome.Done) await transaction.CommitAsync(ct);
                    return outcome;
                }
                catch (Exception e) when (attempt < Attempts && UserAccounts.IsSerializationFailure(e))
                {
                    db.ChangeTracker.Clear();
                }
            }
        }
    }

    private async Task<Dictionary<long, string>> OrgNamesAsync(CancellationToken ct) =>
        (await orgs.ListAsync(ct)).ToDictionary(o => o.Id, o => o.Name);

    private static Change<UserSummary>? UnknownOrg(IEnumerable<long> orgIds, Dictionary<long, string> names) =>
        orgIds.Where(id => !names.ContainsKey(id)).Select(id => (long?)id).FirstOrDefault() is { } missing
            ? Change.Invalid<UserSummary>("roles", string.Create(CultureInfo.InvariantCulture, $"Organisation {missing} does not exist."))
            : null;

    private static string RolesText(Dictionary<long, OrgRole?> roles, Dictionary<long, string> names) =>
        roles.Count == 0 ? "none" : string.Join(", ", roles.Select(r => $"{OrgText(r.Key, names)} {r.Value?.ToWire() ?? "none"}"));

    private static string OrgText(long orgId, Dictionary<long, string> names) =>
        names.TryGetValue(orgId, out var name) ? name : orgId.ToString(CultureInfo.InvariantCulture);

    private static string Describe(string userName, long id) => string.Create(CultureInfo.InvariantCulture, $"'{userName}' (id {id})");

    private static UserSummary Summary(User u) =>
        new(u.Id, u.UserName, u.IsServerAdmin, u.CreatedAt, u.Memberships.ToDictionary(m => m.OrgId, m => m.Role));
}
