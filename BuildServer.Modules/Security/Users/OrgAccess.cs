using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;

namespace BuildServer.Modules.Security.Users;

/// <summary>What a caller may do: everything (a server admin, or an admin API token), or per organisation by role.</summary>
public sealed record UserAccess(bool IsServerAdmin, IReadOnlyDictionary<long, OrgRole> Roles)
{
    public static readonly UserAccess None = new(false, new Dictionary<long, OrgRole>());

    public bool Allows(long orgId, OrgRole needed) => IsServerAdmin || (Roles.TryGetValue(orgId, out var role) && role >= needed);

    /// <summary>The organisations whose runs the caller may see; null means every organisation.</summary>
    public IReadOnlySet<long>? VisibleOrgs => IsServerAdmin ? null : Roles.Keys.ToHashSet();
}

/// <summary>
/// The one place pages and actions ask what a user may do. Pages hide what the answer forbids; actions ask again
/// on the server (through <see cref="IAuthorizationService"/> with a policy of <see cref="OrgPolicies"/> and the
/// organisation's id as the resource), so a forged request is refused too. Roles are read from the database on
/// each question, so a changed role counts at once, also in an open page.
/// </summary>
public interface IOrgAccess
{
    Task<UserAccess> ForAsync(ClaimsPrincipal user, CancellationToken cancellationToken);
}

/// <summary>Policy names for <c>AuthorizeView Policy=… Resource=orgId</c> and <c>IAuthorizationService.AuthorizeAsync(user, orgId, policy)</c>.</summary>
public static class OrgPolicies
{
    public const string Viewer = "org:viewer";
    public const string Member = "org:member";
    public const string Admin = "org:admin";

    /// <summary>A server admin (or an admin API token), as the database says now: not the role claim of a cookie
    /// issued before the flag was taken away. For the administration pages and their actions (no resource).</summary>
    public const string ServerAdmin = "server-admin";

    internal static void Add(AuthorizationBuilder builder)
    {
        foreach (var (name, role) in new[] { (Viewer, OrgRole.Viewer), (Member, OrgRole.Member), (Admin, OrgRole.Admin) })
        {
            builder.AddPolicy(name, p => p.AddRequirements(new OrgRoleRequirement(role)));
        }
        builder.AddPolicy(ServerAdmin, p => p.RequireAuthenticatedUser().AddRequirements(new ServerAdminRequirement()));
    }
}

internal sealed class OrgAccess(UserAccounts accounts) : IOrgAccess
{
    public async Task<UserAccess> ForAsync(ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (user.Identity?.IsAuthenticated != true) return UserAccess.None;
        if (UserClaims.UserId(user) is not { } id)
        {
            // An API token: its role is its whole access (an admin token may do everything).
            return user.IsInRole(Roles.Admin) ? new UserAccess(true, new Dictionary<long, OrgRole>()) : UserAccess.None;
        }
        return await accounts.AccessAsync(id, cancellationToken) is { } found ? new UserAccess(found.IsServerAdmin, found.Roles) : UserAccess.None;
    }
}

internal sealed record OrgRoleRequirement(OrgRole Role) : IAuthorizationRequirement;

/// <summary>Grants <see cref="OrgRoleRequirement"/> when the resource is an organisation id the user has that role in (or more).</summary>
internal sealed class OrgRoleHandler(IOrgAccess access) : AuthorizationHandler<OrgRoleRequirement, long>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, OrgRoleRequirement requirement, long orgId)
    {
        if ((await access.ForAsync(context.User, CancellationToken.None)).Allows(orgId, requirement.Role))
        {
            context.Succeed(requirement);
        }
    }
}

internal sealed record ServerAdminRequirement : IAuthorizationRequirement;

/// <summary>Grants <see cref="ServerAdminRequirement"/> to a server admin, read from the database on each question.</summary>
internal sealed class ServerAdminHandler(IOrgAccess access) : AuthorizationHandler<ServerAdminRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, ServerAdminRequirement requirement)
    {
        if ((await access.ForAsync(context.User, CancellationToken.None)).IsServerAdmin)
        {
            context.Succeed(requirement);
        }
    }
}

/// <summary>The claims of a signed-in user's cookie: <c>user:&lt;id&gt;</c> and the name; a server admin also gets the
/// <see cref="Roles.Admin"/> role (what the Hangfire dashboard asks for).</summary>
public static class UserClaims
{
    private const string Prefix = "user:";

    public static ClaimsPrincipal Principal(UserInfo user, string scheme)
    {
        List<Claim> claims =
        [
            new(ClaimTypes.NameIdentifier, Prefix + user.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, user.UserName),
        ];
        if (user.IsServerAdmin) claims.Add(new Claim(ClaimTypes.Role, Roles.Admin));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>The signed-in user's id; null for anyone else (anonymous, an API token).</summary>
    public static long? UserId(ClaimsPrincipal principal) =>
        principal.FindFirstValue(ClaimTypes.NameIdentifier) is { } value && value.StartsWith(Prefix, StringComparison.Ordinal)
            && long.TryParse(value.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;
}
