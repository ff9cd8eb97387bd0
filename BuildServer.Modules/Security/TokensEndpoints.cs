using System.Security.Claims;
using BuildServer.Modules.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Security;

public sealed record CreateTokenRequest(string? Name, string? Role);

public sealed record TokenResponse(long Id, string Name, string Prefix, string Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Token = null);

/// <summary>The tokens API (admin token): list, create (the secret only in that answer), revoke. The admin page does the
/// same through <see cref="ApiTokens"/>.</summary>
internal static class TokensEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/tokens", "Tokens").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapGet("/", List);
        group.MapPost("/", Create);
        group.MapDelete("/{id:long}", Revoke);
    }

    private static async Task<Ok<TokenResponse[]>> List(ApiTokens tokens, CancellationToken ct) => TypedResults.Ok(await tokens.ListAsync(ct));

    private static async Task<Results<Created<TokenResponse>, ValidationProblem>> Create(
        CreateTokenRequest request, ApiTokens tokens, ClaimsPrincipal user, CancellationToken ct)
    {
        var (created, error) = await tokens.CreateAsync(request.Name, request.Role, user, ct);
        return created is null ? error!.Problem() : TypedResults.Created($"/api/v1/tokens/{created.Id}", created);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(long id, ApiTokens tokens, ClaimsPrincipal user, CancellationToken ct) =>
        await tokens.RevokeAsync(id, user, ct) ? TypedResults.NoContent() : Problems.NotFound("Token", id);
}
