using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace BuildServer.Modules.Security;

/// <summary>API tokens as the tokens API and the admin page manage them: listed without their secret, created with a
/// secret shown once (only its SHA-256 is stored), revoked at once on this node (the authentication cache is evicted;
/// another node's cache forgets it within <see cref="ApiTokenAuthentication.CacheFor"/>). Callers have checked that
/// <paramref name="actor"/> is an admin; every change is recorded in the admin log.</summary>
internal sealed class ApiTokens(BuildDb db, WriteGate gate, IMemoryCache cache, TimeProvider time, IAdminLog log)
{
    public const int MaxNameLength = 200;

    public Task<TokenResponse[]> ListAsync(CancellationToken ct) =>
        db.Set<ApiToken>().AsNoTracking().OrderBy(t => t.Id)
            .Select(t => new TokenResponse(t.Id, t.Name, t.Prefix, t.Role, t.CreatedAt, t.RevokedAt, null))
            .ToArrayAsync(ct);

    public static FieldError? Validate(string? name, string? role)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Length > MaxNameLength)
        {
            return new FieldError("name", $"A token needs a name of 1 to {MaxNameLength} characters.");
        }
        return role is null or Roles.Admin ? null : new FieldError("role", $"Unknown role '{role}'; the roles are: {Roles.Admin}.");
    }

    /// <summary>The new token with its secret (<see cref="TokenResponse.Token"/>), or why the request was refused.</summary>
    public async Task<(TokenResponse? Created, FieldError? Error)> CreateAsync(string? name, string? role, ClaimsPrincipal actor, CancellationToken ct)
    {
        if (Validate(name, role) is { } error) return (null, error);
        var secret = TokenSecrets.NewSecret(TokenSecrets.ApiTokenPrefix);
        var token = new ApiToken
        {
            Name = name!.Trim(),
            Hash = TokenSecrets.Hash(secret),
            Prefix = secret[..8],
            Role = role ?? Roles.Admin,
            CreatedAt = time.GetUtcNow(),
        };
        await using (await gate.EnterAsync(ct))
        {
            db.Add(token);
            await db.SaveChangesAsync(ct);
        }
        log.Record(actor, "created API token", Describe(token), $"role {token.Role}, prefix {token.Prefix}");
        return (new TokenResponse(token.Id, token.Name, token.Prefix, token.Role, token.CreatedAt, null, secret), null);
    }

    /// <summary>False for an unknown token; revoking a revoked one changes nothing and is true.</summary>
    public async Task<bool> RevokeAsync(long id, ClaimsPrincipal actor, CancellationToken ct)
    {
        ApiToken? token;
        await using (await gate.EnterAsync(ct))
        {
            token = await db.Set<ApiToken>().FirstOrDefaultAsync(t => t.Id == id, ct);
            if (token is null) return false;
            if (token.RevokedAt is not null) return true;
            token.RevokedAt = time.GetUtcNow();
            await db.SaveChangesAsync(ct);
        }
        cache.Remove(ApiTokenAuthentication.CacheKey(token.Hash));
        log.Record(actor, "revoked API token", Describe(token));
        return true;
    }

    private static string Describe(ApiToken token) => string.Create(CultureInfo.InvariantCulture, $"'{token.Name}' (id {token.Id})");
}
