using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Agents.Ui;

/// <summary>
/// The agents page's buttons, as plain form posts (like the dashboard's cancel button): <c>POST /agents/{id}/disable</c>,
/// <c>…/enable</c>, <c>…/drain</c>, <c>…/delete</c> and <c>POST /agents/registration-tokens/{id}/revoke</c>.
/// Antiforgery-checked; who may is asked again here (<see cref="AgentAdministration"/>), whatever the page showed, so a
/// forged post without the role is answered 403 and changes nothing.
/// </summary>
internal static class AgentsFromUi
{
    public const string Page = "/agents";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        foreach (var action in Enum.GetValues<AgentAction>())
        {
            endpoints.MapPost($"/agents/{{id:long}}/{action.ToString().ToLowerInvariant()}",
                    (long id, AgentAdministration agents, ClaimsPrincipal user, CancellationToken ct) => ApplyAsync(id, action, agents, user, ct))
                .RequireAntiforgeryToken().ExcludeFromDescription();
        }
        endpoints.MapPost("/agents/registration-tokens/{id:long}/revoke", RevokeAsync).RequireAntiforgeryToken().ExcludeFromDescription();
    }

    private static async Task<Results<RedirectHttpResult, StatusCodeHttpResult>> ApplyAsync(
        long id, AgentAction action, AgentAdministration agents, ClaimsPrincipal user, CancellationToken ct) =>
        Answer((await agents.ApplyAsync(id, action, user, ct)).Outcome);

    private static async Task<Results<RedirectHttpResult, StatusCodeHttpResult>> RevokeAsync(
        long id, RegistrationTokens tokens, ClaimsPrincipal user, CancellationToken ct) =>
        Answer((await tokens.RevokeAsync(id, user, ct)).Outcome);

    /// <summary>Back to the page when done; else the status page (no body: the UI re-executes it as its 403/404 page).</summary>
    private static Results<RedirectHttpResult, StatusCodeHttpResult> Answer(ChangeOutcome outcome) => outcome switch
    {
        ChangeOutcome.Done => TypedResults.LocalRedirect(Page),
        ChangeOutcome.NotFound => TypedResults.StatusCode(StatusCodes.Status404NotFound),
        ChangeOutcome.Forbidden => TypedResults.StatusCode(StatusCodes.Status403Forbidden),
        _ => TypedResults.StatusCode(StatusCodes.Status409Conflict),
    };
}
