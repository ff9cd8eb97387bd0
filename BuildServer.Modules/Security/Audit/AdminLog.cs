using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Security.Users;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Security.Audit;

/// <summary>
/// Where every administrative action (agents, registration and API tokens, organisations, users) says who did what,
/// whether it came from a page or the API. Thread-safe; a singleton.
/// </summary>
public interface IAdminLog
{
    /// <param name="action">What was done, as a verb phrase: "disabled agent".</param>
    /// <param name="target">What it was done to: "'build-07' (id 7)".</param>
    /// <param name="detail">What changed, when the action alone does not say it ("quota 2, weight 3").</param>
    void Record(ClaimsPrincipal actor, string action, string target, string? detail = null);
}

internal sealed class AdminLog(ILogger<AdminLog> logger) : IAdminLog
{
    public void Record(ClaimsPrincipal actor, string action, string target, string? detail = null)
    {
        if (detail is null)
        {
            logger.LogInformation("Admin: {Actor:l} {Action:l} {Target:l}.", Actors.Describe(actor), action, target);
        }
        else
        {
            logger.LogInformation("Admin: {Actor:l} {Action:l} {Target:l}: {Detail:l}.", Actors.Describe(actor), action, target, detail);
        }
    }
}

/// <summary>Names the caller behind a request or a circuit for logs: a signed-in user or an API token.</summary>
public static class Actors
{
    public static string Describe(ClaimsPrincipal principal)
    {
        var name = principal.Identity?.Name ?? "?";
        if (UserClaims.UserId(principal) is { } id) return string.Create(CultureInfo.InvariantCulture, $"user '{name}' (id {id})");
        return principal.FindFirstValue(ClaimTypes.NameIdentifier) is { } token && token.StartsWith("token:", StringComparison.Ordinal)
            ? $"API token '{name}' (id {token["token:".Length..]})"
            : "anonymous";
    }
}
