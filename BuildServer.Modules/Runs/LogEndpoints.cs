using BuildServer.Modules.Hosting;
using BuildServer.Modules.Runs.Logs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BuildServer.Modules.Runs;

/// <summary>
/// <c>GET .../log?offset=&amp;limit=</c> (bytes, cut at a line end) or <c>?tail=N</c> (the last N lines), as
/// <c>text/plain</c>. Headers tell a follower where to continue: <c>X-Log-Offset</c>, <c>X-Log-Next-Offset</c>,
/// <c>X-Log-Size</c>.
/// </summary>
internal static class LogEndpoints
{
    private const int DefaultLimit = 1024 * 1024;
    private const int MaxTailLines = 100_000;

    public static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> JobLog(
        long id, long? offset, int? limit, int? tail, int? attempt, RunViews views, ILogStore logs, HttpResponse response, CancellationToken ct) =>
        await views.JobLogAsync(id, attempt, ct) is { } range
            ? await ReadAsync(range, offset, limit, tail, logs, response, ct)
            : Problems.NotFound(attempt is null ? "Job" : "Attempt of job", attempt is null ? id : $"{id}#{attempt}");

    public static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> StepLog(
        long id, long? offset, int? limit, int? tail, RunViews views, ILogStore logs, HttpResponse response, CancellationToken ct) =>
        await views.StepLogAsync(id, ct) is { } range
            ? await ReadAsync(range, offset, limit, tail, logs, response, ct)
            : Problems.NotFound("Step", id);

    private static async Task<Results<FileContentHttpResult, ValidationProblem, ProblemHttpResult>> ReadAsync(
        LogRange range, long? offset, int? limit, int? tail, ILogStore logs, HttpResponse response, CancellationToken ct)
    {
        if (offset is < 0) return Problems.Field("offset", "The offset must be 0 or more.");
        if (limit is < 1) return Problems.Field("limit", "The limit must be 1 or more.");
        if (tail is < 0 or > MaxTailLines) return Problems.Field("tail", $"The tail must be between 0 and {MaxTailLines} lines.");
        if (tail is not null && offset is not null) return Problems.Field("tail", "Use either tail or offset, not both.");
        var slice = tail is { } lines
            ? await logs.TailAsync(range, lines, ct)
            : await logs.ReadAsync(range, offset ?? 0, limit ?? DefaultLimit, ct);
        response.Headers["X-Log-Offset"] = slice.Offset.ToString();
        response.Headers["X-Log-Next-Offset"] = slice.NextOffset.ToString();
        response.Headers["X-Log-Size"] = slice.Size.ToString();
        return TypedResults.File(slice.Data.ToArray(), "text/plain; charset=utf-8");
    }
}
