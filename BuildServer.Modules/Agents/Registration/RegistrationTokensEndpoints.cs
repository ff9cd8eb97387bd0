using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Security;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Agents;

/// <param name="Org">The organisation (id or name) agents registered with it belong to; null = global.</param>
/// <param name="Reusable">False (default): spent by the first registration.</param>
/// <param name="ExpiresAt">After this instant it registers nothing; null = never expires.</param>
public sealed record CreateRegistrationTokenRequest(string? Org, bool? Reusable, DateTimeOffset? ExpiresAt);

/// <param name="Token">The secret: only in the answer to its creation.</param>
public sealed record RegistrationTokenResponse(
    long Id, string Prefix, string? Org, bool Reusable, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt,
    int UsedCount, DateTimeOffset? LastUsedAt, bool Revoked, DateTimeOffset? RevokedAt, string? Token = null);

/// <summary>Admins create, list and revoke the tokens agents register with (through <see cref="RegistrationTokens"/>, as the
/// agents page does).</summary>
internal static class RegistrationTokensEndpoints
{
    public static void Map(RouteGroupBuilder agents)
    {
        var group = agents.MapGroup("/registration-tokens").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        group.MapGet("/", List);
        group.MapPost("/", Create);
        group.MapDelete("/{id:long}", Revoke);
    }

    private static async Task<Ok<RegistrationTokenResponse[]>> List(RegistrationTokens tokens, IOrgAccess access, ClaimsPrincipal user, CancellationToken ct) =>
        TypedResults.Ok(await tokens.ListAsync(await access.ForAsync(user, ct), ct));

    private static async Task<Results<Created<RegistrationTokenResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateRegistrationTokenRequest request, RegistrationTokens tokens, ClaimsPrincipal user, CancellationToken ct) =>
        await tokens.CreateAsync(request, user, ct) switch
        {
            { Value: { } created } => TypedResults.Created($"/api/v1/agents/registration-tokens/{created.Id}", created),
            { Outcome: ChangeOutcome.Forbidden } => Forbidden(),
            var refused => refused.Error!.Problem(),
        };

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(long id, RegistrationTokens tokens, ClaimsPrincipal user, CancellationToken ct) =>
        await tokens.RevokeAsync(id, user, ct) switch
        {
            { Outcome: ChangeOutcome.Done } => TypedResults.NoContent(),
            { Outcome: ChangeOutcome.Forbidden } => Forbidden(),
            _ => Problems.NotFound("Registration token", id),
        };

    private static ProblemHttpResult Forbidden() =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "This caller may not manage this registration token.");
}
