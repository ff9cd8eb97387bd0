using System.Security.Claims;
using System.Text.Encodings.Web;
using BuildServer.Modules.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Security;

/// <summary>
/// <c>Authorization: Bearer &lt;token&gt;</c>. A token's lookup is cached for a few seconds so that a burst of
/// API calls does not cost a query each; revocation evicts the entry at once on this node.
/// </summary>
internal sealed class ApiTokenAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    BuildDb db,
    IMemoryCache cache) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiToken";
    internal static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return AuthenticateResult.NoResult();
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            return AuthenticateResult.Fail("The Authorization header must be 'Bearer <token>'.");
        }
        var hash = TokenSecrets.Hash(header[7..].Trim());
        var identity = await cache.GetOrCreateAsync(CacheKey(hash), async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            var token = await db.Set<ApiToken>().AsNoTracking()
                .Where(t => t.Hash == hash && t.RevokedAt == null)
                .Select(t => new { t.Id, t.Name, t.Role })
                .FirstOrDefaultAsync(Context.RequestAborted);
            return token is null ? null : new TokenIdentity(token.Id, token.Name, token.Role);
        });
        if (identity is null)
        {
            return AuthenticateResult.Fail("The token is unknown or revoked.");
        }
        var principal = new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, $"token:{identity.Id}"),
            new Claim(ClaimTypes.Name, identity.Name),
            new Claim(ClaimTypes.Role, identity.Role),
        ], SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        BearerChallenge.WriteAsync(Response, "A valid API token is required: send 'Authorization: Bearer <token>'.");

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        await Response.WriteAsJsonAsync(new
        {
            type = "https://tools.ietf.org/html/rfc9110#section-15.5.4",
            title = "Forbidden",
            status = 403,
            detail = "This token's role does not allow this action.",
        }, options: null, contentType: "application/problem+json");
    }

    internal static string CacheKey(string hash) => "api-token:" + hash;

    private sealed record TokenIdentity(long Id, string Name, string Role);
}
