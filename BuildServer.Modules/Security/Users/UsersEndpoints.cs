using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Security.Users;

/// <param name="Roles">Role per organisation id: <c>{"1": "member"}</c>.</param>
public sealed record CreateUserRequest(string? UserName, string? Password, bool? ServerAdmin, Dictionary<string, string>? Roles);

public sealed record UserResponse(long Id, string UserName, bool ServerAdmin);

/// <summary><c>POST /api/v1/users</c> (admin token): local accounts for the web UI, with their roles per organisation.</summary>
internal static class UsersEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapApi("/users", "Users").RequireAuthorization(p => p.RequireRole(Roles.Admin)).MapPost("/", Create);

    private static async Task<Results<Created<UserResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateUserRequest request, UserAccounts accounts, CancellationToken ct)
    {
        if (!AccountRules.IsUserName(request.UserName)) return Problems.Field("userName", AccountRules.UserNameRule);
        if (!AccountRules.IsPassword(request.Password)) return Problems.Field("password", AccountRules.PasswordRule);
        var roles = new Dictionary<long, OrgRole>();
        foreach (var (org, role) in request.Roles ?? [])
        {
            if (!long.TryParse(org, out var orgId) || orgId <= 0) return Problems.Field("roles", $"'{org}' is not an organisation id.");
            if (!OrgRoles.TryFromWire(role, out var parsed)) return Problems.Field("roles", $"Unknown role '{role}'; the roles are: {OrgRoles.WireWords}.");
            roles[orgId] = parsed;
        }
        var user = await accounts.CreateAsync(request.UserName!, request.Password!, request.ServerAdmin ?? false, roles, ct);
        if (user is null) return Problems.Field("userName", $"The user name '{request.UserName}' is taken.");
        return TypedResults.Created($"/api/v1/users/{user.Id}", new UserResponse(user.Id, user.UserName, user.IsServerAdmin));
    }
}
