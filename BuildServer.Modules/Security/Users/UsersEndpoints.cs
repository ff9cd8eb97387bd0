using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Security.Users;

/// <param name="Roles">Role per organisation id: <c>{"1": "member"}</c>.</param>
public sealed record CreateUserRequest(string? UserName, string? Password, bool? ServerAdmin, Dictionary<string, string>? Roles);

/// <param name="Roles">Roles to set per organisation id; <c>null</c> removes the user from that organisation; organisations
/// not named are left as they are.</param>
public sealed record UpdateUserRequest(bool? ServerAdmin, Dictionary<string, string?>? Roles);

public sealed record PasswordRequest(string? Password);

/// <param name="Roles">Role per organisation id.</param>
public sealed record UserResponse(long Id, string UserName, bool ServerAdmin, DateTimeOffset? CreatedAt = null, Dictionary<string, string>? Roles = null);

/// <summary><c>/api/v1/users</c> (admin token): local accounts for the web UI, with their roles per organisation. The
/// admin page does the same through <see cref="UserAdministration"/>.</summary>
internal static class UsersEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var users = endpoints.MapApi("/users", "Users").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        users.MapGet("/", List);
        users.MapGet("/{id:long}", Get);
        users.MapPost("/", Create);
        users.MapPatch("/{id:long}", Update);
        users.MapPut("/{id:long}/password", ResetPassword);
        users.MapDelete("/{id:long}", Delete);
    }

    private static async Task<Ok<UserResponse[]>> List(UserAdministration users, CancellationToken ct) =>
        TypedResults.Ok((await users.ListAsync(ct)).Select(Response).ToArray());

    private static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> Get(long id, UserAdministration users, CancellationToken ct) =>
        await users.FindAsync(id, ct) is { } user ? TypedResults.Ok(Response(user)) : Problems.NotFound("User", id);

    private static async Task<Results<Created<UserResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateUserRequest request, UserAdministration users, ClaimsPrincipal caller, CancellationToken ct)
    {
        var roles = new Dictionary<long, OrgRole>();
        foreach (var (org, role) in request.Roles ?? [])
        {
            if (ParseRole(org, role) is not ({ } orgId, { } parsed)) return RoleProblem(org, role);
            roles[orgId] = parsed;
        }
        var change = await users.CreateAsync(request.UserName, request.Password, request.ServerAdmin ?? false, roles, caller, ct);
        return change.Value is { } user
            ? TypedResults.Created($"/api/v1/users/{user.Id}", Response(user))
            : change.Error!.Problem();
    }

    private static async Task<Results<Ok<UserResponse>, ValidationProblem, ProblemHttpResult>> Update(
        long id, UpdateUserRequest request, UserAdministration users, ClaimsPrincipal caller, CancellationToken ct)
    {
        var roles = new Dictionary<long, OrgRole?>();
        foreach (var (org, role) in request.Roles ?? [])
        {
            if (role is null && long.TryParse(org, NumberStyles.None, CultureInfo.InvariantCulture, out var removed) && removed > 0) roles[removed] = null;
            else if (ParseRole(org, role) is ({ } orgId, { } parsed)) roles[orgId] = parsed;
            else return RoleProblem(org, role);
        }
        return Answer(await users.UpdateAsync(id, request.ServerAdmin, request.Roles is null ? null : roles, caller, ct), id);
    }

    private static async Task<Results<Ok<UserResponse>, ValidationProblem, ProblemHttpResult>> ResetPassword(
        long id, PasswordRequest request, UserAdministration users, ClaimsPrincipal caller, CancellationToken ct) =>
        Answer(await users.ResetPasswordAsync(id, request.Password, caller, ct), id);

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> Delete(
        long id, UserAdministration users, ClaimsPrincipal caller, CancellationToken ct) =>
        await users.DeleteAsync(id, caller, ct) switch
        {
            { Outcome: ChangeOutcome.Done } => TypedResults.NoContent(),
            { Outcome: ChangeOutcome.NotFound } => Problems.NotFound("User", id),
            var refused => Problems.Conflict(refused.Error!.Message),
        };

    private static Results<Ok<UserResponse>, ValidationProblem, ProblemHttpResult> Answer(Change<UserSummary> change, long id) => change switch
    {
        { Outcome: ChangeOutcome.Done, Value: { } user } => TypedResults.Ok(Response(user)),
        { Outcome: ChangeOutcome.NotFound } => Problems.NotFound("User", id),
        { Outcome: ChangeOutcome.Conflict } => Problems.Conflict(change.Error!.Message),
        _ => change.Error!.Problem(),
    };

    private static (long? OrgId, OrgRole? Role) ParseRole(string org, string? role) =>
        (long.TryParse(org, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : null,
         OrgRoles.TryFromWire(role, out var parsed) ? parsed : null);

    private static ValidationProblem RoleProblem(string org, string? role) =>
        ParseRole(org, role).OrgId is null
            ? Problems.Field("roles", $"'{org}' is not an organisation id.")
            : Problems.Field("roles", $"Unknown role '{role}'; the roles are: {OrgRoles.WireWords}.");

    private static UserResponse Response(UserSummary u) => new(u.Id, u.UserName, u.ServerAdmin, u.CreatedAt,
        u.Roles.OrderBy(r => r.Key).ToDictionary(r => r.Key.ToString(CultureInfo.InvariantCulture), r => r.Value.ToWire()));
}
