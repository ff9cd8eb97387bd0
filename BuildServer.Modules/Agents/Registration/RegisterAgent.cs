using System.Text.RegularExpressions;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents;

/// <param name="Name">Unique among agents; omitted: <c>agent-</c> and 8 random hex digits.</param>
public sealed record RegisterAgentRequest(string? Name, string[]? Labels, int? Slots, string? Version);

/// <param name="AgentToken">The agent's credential: only in this answer, stored hashed on the server.</param>
public sealed record RegisterAgentResponse(long AgentId, string AgentToken, string Name, string[] Labels, int Slots, string? Org);

/// <summary>
/// <c>POST /api/v1/agents/register</c>, with the registration token in <c>Authorization: Bearer bsr_…</c>. The body is
/// checked first, so a bad request never spends a one-time token; every refusal of the token itself (unknown, revoked,
/// expired, already used) is the same 401, and only the server log says which it was.
/// </summary>
internal static partial class RegisterAgent
{
    public const int MaxLabels = 32;
    public const int MaxLabelLength = 64;
    public const int MaxSlots = 256;
    private const string Refused = "The registration token is not valid: it is unknown, revoked, expired or already used. Ask an administrator for a new one.";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[^\s,]+$")]
    private static partial Regex LabelPattern();

    public static async Task<Results<Created<RegisterAgentResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        RegisterAgentRequest request, HttpContext http, BuildDb db, WriteGate gate, AgentOrgNames orgs, TimeProvider time,
        ILoggerFactory loggers, CancellationToken ct)
    {
        if (Validate(request) is { } invalid) return invalid;
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer " + RegistrationToken.SecretPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Unauthorized("Send the registration token as 'Authorization: Bearer bsr_…'.");
        }
        var logger = loggers.CreateLogger(typeof(RegisterAgent));
        var hash = TokenSecrets.Hash(header[7..].Trim());
        var name = request.Name ?? "agent-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var now = time.GetUtcNow();
        var secret = TokenSecrets.NewSecret(AgentAuthentication.SecretPrefix);
        Runner runner;
        long? orgId;
        await using (await gate.EnterAsync(ct))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var token = await db.Set<RegistrationToken>().AsNoTracking().FirstOrDefaultAsync(t => t.Hash == hash, ct);
            var reason = token switch
            {
                null => "unknown",
                { RevokedAt: not null } => "revoked",
                { ExpiresAt: { } expiresAt } when expiresAt <= now => "expired",
                { Reusable: false, UsedCount: > 0 } => "already used",
                _ => null,
            };
            if (reason is not null)
            {
                logger.LogWarning("Refused an agent registration ({Name}): the registration token {Token} is {Reason}.",
                    name, token?.Prefix ?? "(unknown)", reason);
                return Unauthorized(Refused);
            }
            if (await db.Set<Runner>().AnyAsync(r => r.Name == name, ct)) return NameTaken(name);
            // The conditional update spends a one-time token exactly once, however many registrations race for it.
            var spent = await db.Set<RegistrationToken>()
                .Where(t => t.Id == token!.Id && t.RevokedAt == null && (t.Reusable || t.UsedCount == 0))
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedCount, t => t.UsedCount + 1).SetProperty(t => t.LastUsedAt, now), ct);
            if (spent == 0)
            {
                logger.LogWarning("Refused an agent registration ({Name}): the one-time token {Token} was just used.", name, token!.Prefix);
                return Unauthorized(Refused);
            }
            orgId = token!.OrgId;
            runner = new Runner
            {
                Name = name,
                Kind = RunnerKinds.Remote,
                Labels = [.. request.Labels!.Distinct()],
                Slots = request.Slots!.Value,
                Version = request.Version,
                CreatedAt = now,
                LastSeenAt = now,
                OrgId = orgId,
                TokenHash = TokenSecrets.Hash(secret),
            };
            db.Add(runner);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                return NameTaken(name); // a registration with the same name won the race; the token is not spent
            }
            await transaction.CommitAsync(ct);
        }
        logger.LogInformation("Registered agent {AgentId} '{Name}' with labels [{Labels}].", runner.Id, runner.Name, string.Join(", ", runner.Labels));
        return TypedResults.Created($"/api/v1/agents/{runner.Id}",
            new RegisterAgentResponse(runner.Id, secret, runner.Name, [.. runner.Labels], runner.Slots, await orgs.NameAsync(orgId, ct)));
    }

    internal static ValidationProblem? Validate(RegisterAgentRequest request)
    {
        if (request.Name is not null && !NamePattern().IsMatch(request.Name))
        {
            return Problems.Field("name", "name must be 1 to 100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.");
        }
        if (request.Labels is null)
        {
            return Problems.Field("labels", "labels is required: the labels jobs select this agent by (an empty list is allowed).");
        }
        if (request.Labels.Length > MaxLabels)
        {
            return Problems.Field("labels", $"An agent has at most {MaxLabels} labels.");
        }
        foreach (var label in request.Labels)
        {
            if (label is null || label.Length > MaxLabelLength || !LabelPattern().IsMatch(label))
            {
                return Problems.Field("labels", $"Each label is 1 to {MaxLabelLength} characters without spaces or commas; '{label}' is not.");
            }
        }
        if (request.Slots is not { } slots || slots is < 1 or > MaxSlots)
        {
            return Problems.Field("slots", $"slots is required: how many jobs the agent runs at once, 1 to {MaxSlots}.");
        }
        if (string.IsNullOrWhiteSpace(request.Version) || request.Version.Length > 64)
        {
            return Problems.Field("version", "version is required: the agent's version, 1 to 64 characters.");
        }
        return null;
    }

    private static ProblemHttpResult Unauthorized(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: detail);

    private static ProblemHttpResult NameTaken(string name) => Problems.Conflict($"An agent named '{name}' is already registered.");
}
