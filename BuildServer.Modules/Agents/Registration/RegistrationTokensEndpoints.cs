using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents;

/// <param name="Org">The organisation (id or name) agents registered with it belong to; null = global.</param>
/// <param name="Reusable">False (default): spent by the first registration.</param>
/// <param name="ExpiresAt">After this instant it registers nothing; null = never expires.</param>
public sealed record CreateRegistrationTokenRequest(string? Org, bool? Reusable, DateTimeOffset? ExpiresAt);

/// <param name="Token">The secret: only in the answer to its creation.</param>
public sealed record RegistrationTokenResponse(
    long Id, string Prefix, string? Org, bool Reusable, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt,
    int UsedCount, DateTimeOffset? LastUsedAt, bool Revoked, DateTimeOffset? RevokedAt, string? Token = null);

/// <summary>Admins create, list and revoke the tokens agents register with.</summary>
internal static class RegistrationTokensEndpoints
{
    public static void Map(RouteGroupBuilder agents)
    {
        var group = agents.MapGroup("/registration-tokens").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapGet("/", List);
        group.MapPost("/", Create);
        group.MapDelete("/{id:long}", Revoke);
    }

    private static async Task<Ok<RegistrationTokenResponse[]>> List(BuildDb db, AgentOrgNames orgs, CancellationToken ct)
    {
        var tokens = await db.Set<RegistrationToken>().AsNoTracking().OrderBy(t => t.Id).ToListAsync(ct);
        var names = await orgs.NamesAsync(tokens.Select(t => t.OrgId), ct);
        return TypedResults.Ok(tokens.Select(t => Describe(t, AgentOrgNames.Name(names, t.OrgId))).ToArray());
    }

    private static async Task<Results<Created<RegistrationTokenResponse>, ValidationProblem>> Create(
        CreateRegistrationTokenRequest request, BuildDb db, IOrganizationDirectory orgs, TimeProvider time, CancellationToken ct)
    {
        OrganizationInfo? org = null;
        if (request.Org is not null && (org = await orgs.FindAsync(request.Org, ct)) is null)
        {
            return Problems.Field("org", $"Organisation '{request.Org}' does not exist.");
        }
        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return Problems.Field("expiresAt", "expiresAt must be in the future (or omitted: the token does not expire).");
        }
        var secret = TokenSecrets.NewSecret(RegistrationToken.SecretPrefix);
        var token = new RegistrationToken
        {
            Hash = TokenSecrets.Hash(secret),
            Prefix = secret[..10],
            OrgId = org?.Id,
            Reusable = request.Reusable ?? false,
            ExpiresAt = request.ExpiresAt?.ToUniversalTime(),
            CreatedAt = now,
        };
        db.Add(token);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/api/v1/agents/registration-tokens/{token.Id}", Describe(token, org?.Name) with { Token = secret });
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(long id, BuildDb db, TimeProvider time, CancellationToken ct)
    {
        var token = await db.Set<RegistrationToken>().FirstOrDefaultAsync(t => t.Id == id, ct);
        if (token is null)
        {
            return Problems.NotFound("Registration token", id);
        }
        token.RevokedAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return TypedResults.NoContent();
    }

    private static RegistrationTokenResponse Describe(RegistrationToken t, string? org) =>
        new(t.Id, t.Prefix, org, t.Reusable, t.ExpiresAt, t.CreatedAt, t.UsedCount, t.LastUsedAt, t.RevokedAt is not null, t.RevokedAt);
}
