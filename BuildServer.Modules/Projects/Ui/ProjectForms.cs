using BuildServer.Modules.Hosting;
using System.Security.Claims;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Authorization;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Projects.Ui;

/// <summary>Who may create and change projects in the web UI: an organisation's admins, in their organisations, and
/// server admins, in all. Pages ask it to show a control; the action asks <see cref="IAuthorizationService"/> again.</summary>
public static class ProjectPermissions
{
    /// <summary>Shows the New project button: the user administers some organisation.</summary>
    public static bool MayCreate(UserAccess access) => access.IsServerAdmin || access.Roles.Values.Any(r => r >= OrgRole.Admin);
}

/// <summary>An organisation a form offers.</summary>
internal sealed record OrgChoice(long Id, string Name);

/// <summary>The project forms' reads and checks on the server.</summary>
internal static class ProjectForms
{
    /// <summary>The organisations the user administers, by name (a form may put a project only there).</summary>
    public static async Task<IReadOnlyList<OrgChoice>> AdminOrgsAsync(BuildDb db, UserAccess access, CancellationToken ct)
    {
        var orgs = await db.Set<Organization>().AsNoTracking().OrderBy(o => o.Name).Select(o => new OrgChoice(o.Id, o.Name)).ToListAsync(ct);
        return orgs.Where(o => access.Allows(o.Id, OrgRole.Admin)).ToList();
    }

    /// <summary>Asked on the server at the moment of the action: is the user an admin of each of these organisations?</summary>
    public static async Task<bool> IsAdminOfAsync(IAuthorizationService authorization, ClaimsPrincipal user, params long[] orgIds)
    {
        foreach (var orgId in orgIds.Distinct())
        {
            if (!(await authorization.AuthorizeAsync(user, orgId, OrgPolicies.Admin)).Succeeded) return false;
        }
        return true;
    }

    /// <summary>Each field's errors in one sentence, by the API's field names.</summary>
    public static Dictionary<string, string> ByField(IEnumerable<FieldError> errors) =>
        errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => string.Join(" ", g.Select(e => e.Message)));
}
