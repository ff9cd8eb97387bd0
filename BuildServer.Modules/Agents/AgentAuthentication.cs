using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Agents;

/// <summary>
/// <c>Authorization: Bearer bsa_…</c>: an agent's token, for the agent endpoints only (the policy <see cref="PolicyName"/>).
/// API endpoints use the API token scheme, which knows no agent token, so neither kind of token opens the other's
/// endpoints. Every request reads the runner row (no cache), so disabling or deleting an agent refuses its very next
/// call, on every server node.
/// </summary>
internal sealed class AgentAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    BuildDb db) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AgentToken";
    public const string PolicyName = "Agent";
    public const string Role = "agent";
    public const string SecretPrefix = "bsa_";
    private const string FailureKey = "agent-auth-failure";
    private const string IdentityKey = "agent-identity";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer " + SecretPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var hash = TokenSecrets.Hash(header[7..].Trim());
        var runner = await db.Set<Runner>().AsNoTracking().Where(r => r.TokenHash == hash)
            .Select(r => new { r.Id, r.Name, r.Disabled, r.Labels, r.OrgId, r.Draining }).FirstOrDefaultAsync(Context.RequestAborted);
        if (runner is null)
        {
            return AuthenticateResult.Fail("The agent token is unknown (or its agent was deleted).");
        }
        if (runner.Disabled)
        {
            Context.Items[FailureKey] = "This agent is disabled by an administrator; its token is refused until it is enabled.";
            return AuthenticateResult.Fail("The agent is disabled.");
        }
        Context.Items[IdentityKey] = new AgentIdentity(runner.Id, runner.Name, runner.Labels.ToHashSet(StringComparer.Ordinal), runner.OrgId, runner.Draining);
        var principal = new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, runner.Id.ToString(CultureInfo.InvariantCulture)),
            new Claim(ClaimTypes.Name, runner.Name),
            new Claim(ClaimTypes.Role, Role),
        ], SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        BearerChallenge.WriteAsync(Response, Context.Items[FailureKey] as string ?? "A valid agent token is required: send 'Authorization: Bearer bsa_…'.");

    /// <summary>The authenticated agent of this request (the endpoints under the <see cref="PolicyName"/> policy have one).</summary>
    public static AgentIdentity Identity(HttpContext context) =>
        context.Items[IdentityKey] as AgentIdentity ?? throw new InvalidOperationException("The request has no authenticated agent.");

    /// <summary>The runner id of an authenticated agent.</summary>
    public static long AgentId(ClaimsPrincipal agent) =>
        long.Parse(agent.FindFirstValue(ClaimTypes.NameIdentifier)!, CultureInfo.InvariantCulture);
}
