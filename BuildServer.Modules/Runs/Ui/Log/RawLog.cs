using System.Globalization;
using System.Security.Claims;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>
/// <c>GET /jobs/{id}/log.txt?attempt=N</c>: the log view's raw download, the attempt's whole log as stored (the same bytes
/// as the API's <c>/api/v1/jobs/{id}/log</c>) as <c>text/plain</c> with a file name, streamed from the file as far as
/// it was written when asked. Outside <c>/api</c>, so the browser's cookie signs it in; the caller must be allowed to see
/// the run's organisation, asked here whatever the page showed: else (or for an unknown job, attempt or a bad number)
/// it is a 404, the status page.
/// </summary>
internal static class RawLog
{
    public static string Address(long jobId, int attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId}/log.txt?attempt={attempt}");

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/jobs/{id:long}/log.txt", DownloadAsync).ExcludeFromDescription();

    private static async Task<IResult> DownloadAsync(
        long id, string? attempt, JobLogReads reads, ILogStore logs, IAuthorizationService authorization, ClaimsPrincipal user, CancellationToken ct)
    {
        int? number = null;
        if (attempt is not null)
        {
            if (!int.TryParse(attempt, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1) return TypedResults.NotFound();
            number = n;
        }
        if (await reads.DownloadAsync(id, number, ct) is not { } found
            || !(await authorization.AuthorizeAsync(user, found.OrgId, OrgPolicies.Viewer)).Succeeded)
        {
            return TypedResults.NotFound();
        }
        var download = found.Download;
        return TypedResults.Stream(async body =>
        {
            await using var log = logs.OpenRead(new LogRange(download.RunId, download.AttemptId));
            if (log is not null) await log.CopyToAsync(body, 64 * 1024, ct);
        }, "text/plain; charset=utf-8", download.FileName);
    }
}
