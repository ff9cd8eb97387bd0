using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Security;
using BuildServer.Modules.Security.Audit;
using BuildServer.Modules.Security.Users;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Agents;

/// <summary>
/// Registration tokens for the API and the agents page alike: a server admin (or an admin API token) manages every
/// token; an organisation's admin the tokens of that organisation (which register agents of that organisation).
/// The secret is returned once, by <see cref="CreateAsync"/>; only its SHA-256 is stored. Every change is recorded in
/// the admin log.
/// </summary>
internal sealed class RegistrationTokens(
    BuildDb db, WriteGate gate, IOrganizationDirectory directory, AgentOrgNames orgs, IOrgAccess access, TimeProvider time, IAdminLog log)
{
    /// <summary>The tokens <paramref name="caller"/> may manage, oldest first.</summary>
    public async Task<RegistrationTokenResponse[]> ListAsync(UserAccess caller, CancellationToken ct)
    {
        var tokens = (await db.Set<RegistrationToken>().AsNoTracking().OrderBy(t => t.Id).ToListAsync(ct))
            .Where(t => AgentAdministration.MayManage(caller, t.OrgId)).ToList();
        var names = await orgs.NamesAsync(tokens.Select(t => t.OrgId), ct);
        return tokens.Select(t => Describe(t, AgentOrgNames.Name(names, t.OrgId))).ToArray();
    }

    public async Task<Change<RegistrationTokenResponse>> CreateAsync(CreateRegistrationTokenRequest request, ClaimsPrincipal actor, CancellationToken ct)
    {
        OrganizationInfo? org = null;
        if (request.Org is not null && (org = await directory.FindAsync(request.Org, ct)) is null)
        {
            return Change.Invalid<RegistrationTokenResponse>("org", $"Organisation '{request.Org}' does not exist.");
        }
        if (!AgentAdministration.MayManage(await access.ForAsync(actor, ct), org?.Id)) return Change.Forbidden<RegistrationTokenResponse>();
        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return Change.Invalid<RegistrationTokenResponse>("expiresAt", "expiresAt must be in the future (or omitted: the token does not expire).");
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
        await using (await gate.EnterAsync(ct))
        {
            db.Add(token);
            await db.SaveChangesAsync(ct);
        }
        log.Record(actor, "created registration token", Describe(token),
            $"{(org is null ? "global" : "organisation " + org.Name)}, {(token.Reusable ? "reusable" : "one-time")}, " +
            $"expires {token.ExpiresAt?.ToString("O", CultureInfo.InvariantCulture) ?? "never"}");
        return Change.Done<RegistrationTokenResponse>(Describe(token, org?.Name) with { Token = secret });
    }

    public async Task<Change<RegistrationTokenResponse>> RevokeAsync(long id, ClaimsPrincipal actor, CancellationToken ct)
    {
        RegistrationToken? token;
        await using (await gate.EnterAsync(ct))
        {
            token = await db.Set<RegistrationToken>().FirstOrDefaultAsync(t => t.Id == id, ct);
            if (token is null) return Change.NotFound<RegistrationTokenResponse>();
            if (!AgentAdministration.MayManage(await access.ForAsync(actor, ct), token.OrgId)) return Change.Forbidden<RegistrationTokenResponse>();
            if (token.RevokedAt is null)
            {
                token.RevokedAt = time.GetUtcNow();
                await db.SaveChangesAsync(ct);
                log.Record(actor, "revoked registration token", Describe(token));
            }
        }
        return Change.Done<RegistrationTokenResponse>(Describe(token, await orgs.NameAsync(token.OrgId, ct)));
    }

    private static string Describe(RegistrationToken t) => string.Create(CultureInfo.InvariantCulture, $"{t.Prefix}… (id {t.Id})");

    private static RegistrationTokenResponse Describe(RegistrationToken t, string? org) =>
        new(t.Id, t.Prefix, org, t.Reusable, t.ExpiresAt, t.CreatedAt, t.UsedCount, t.LastUsedAt, t.RevokedAt is not null, t.RevokedAt);
}
