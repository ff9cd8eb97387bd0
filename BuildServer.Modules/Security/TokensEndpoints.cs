using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Security;

public sealed record CreateTokenRequest(string? Name, string? Role);

public sealed record TokenResponse(long Id, string Name, string Prefix, string Role, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Token = null);

internal static class TokensEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapApi("/tokens", "Tokens").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapGet("/", List);
        group.MapPost("/", Create);
        group.MapDelete("/{id:long}", Revoke);
    }

    private static async Task<Ok<TokenResponse[]>> List(BuildDb db, CancellationToken ct) =>
        TypedResults.Ok(await db.Set<ApiToken>().AsNoTracking().OrderBy(t => t.Id)
            .Select(t => new TokenResponse(t.Id, t.Name, t.Prefix, t.Role, t.CreatedAt, t.RevokedAt, null))
            .ToArrayAsync(ct));

    private static async Task<Results<Created<TokenResponse>, ValidationProblem>> Create(
        CreateTokenRequest request, BuildDb db, TimeProvider time, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200)
        {
            return Problems.Field("name", "A token needs a name of 1 to 200 characters.");
        }
        var role = request.Role ?? Roles.Admin;
        if (role != Roles.Admin)
        {
            return Problems.Field("role", $"Unknown role '{role}'; the roles are: {Roles.Admin}.");
        }
        var secret = TokenSecrets.NewSecret(TokenSecrets.ApiTokenPrefix);
        var token = new ApiToken
        {
            Name = request.Name.Trim(),
            Hash = TokenSecrets.Hash(secret),
            Prefix = secret[..8],
            Role = role,
            CreatedAt = time.GetUtcNow(),
        };
        db.Add(token);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/tokens/{token.Id}",
            new TokenResponse(token.Id, token.Name, token.Prefix, token.Role, token.CreatedAt, null, secret));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(
        long id, BuildDb db, IMemoryCache cache, TimeProvider time, ClaimsPrincipal user, CancellationToken ct)
    {
        var token = await db.Set<ApiToken>().FirstOrDefaultAsync(t => t.Id == id, ct);
        if (token is null)
        {
            return Problems.NotFound("Token", id);
        }
        token.RevokedAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        cache.Remove(ApiTokenAuthentication.CacheKey(token.Hash));
        return TypedResults.NoContent();
    }
}
