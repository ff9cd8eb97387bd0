using System.Globalization;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Ui.Log;

/// <summary>A job as its log view's heading shows it, with its attempts (oldest first).</summary>
public sealed record JobLogHeading(
    long JobId, string JobName, long RunId, long RunNumber, string RunName, string Project, long OrgId, IReadOnlyList<AttemptChoice> Attempts);

public sealed record AttemptChoice(int Number, Status Status);

/// <summary>One attempt of a job and its steps, as the log view shows them.</summary>
public sealed record AttemptDetail(
    long Id, long RunId, int Number, Status Status, string? Runner, DateTimeOffset QueuedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt, int? ExitCode, string? FailureReason, IReadOnlyList<StepDetail> Steps);

/// <summary>A step and where its output is in the attempt's log (<see cref="LogEnd"/> null while it runs).</summary>
public sealed record StepDetail(int Index, string Name, Status Status, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int? ExitCode, long LogStart, long? LogEnd);

/// <summary>The log view's reads (no tracking): the heading of a job, one attempt with its steps, and what a raw
/// download needs. Scoped: a page takes a scope of its own for each read.</summary>
internal sealed class JobLogReads(BuildDb db, IProjectDirectory projects, IRunnerDirectory runners)
{
    public async Task<JobLogHeading?> HeadingAsync(long jobId, CancellationToken ct)
    {
        var job = await db.Set<Job>().AsNoTracking().Where(j => j.Id == jobId)
            .Select(j => new
            {
                j.Id, j.Name, j.RunId, j.Run!.Number, RunName = j.Run.Name, j.Run.ProjectId, j.Run.OrgId,
                Attempts = j.Attempts.OrderBy(a => a.Number).Select(a => new AttemptChoice(a.Number, a.Status)).ToList(),
            })
            .FirstOrDefaultAsync(ct);
        if (job is null) return null;
        var project = await projects.FindAsync(job.ProjectId.ToString(CultureInfo.InvariantCulture), ct);
        return new JobLogHeading(job.Id, job.Name, job.RunId, job.Number, job.RunName, project?.Name ?? $"#{job.ProjectId}", job.OrgId, job.Attempts);
    }

    public async Task<AttemptDetail?> AttemptAsync(long jobId, int number, CancellationToken ct)
    {
        var attempt = await db.Set<JobAttempt>().AsNoTracking().Where(a => a.JobId == jobId && a.Number == number)
            .Select(a => new
            {
                a.Id, a.RunId, a.Number, a.Status, a.RunnerId, a.QueuedAt, a.StartedAt, a.FinishedAt, a.ExitCode, a.FailureReason,
                Steps = a.Steps.OrderBy(s => s.Index)
                    .Select(s => new StepDetail(s.Index, s.Name, s.Status, s.StartedAt, s.FinishedAt, s.ExitCode, s.LogStart, s.LogEnd)).ToList(),
            })
            .FirstOrDefaultAsync(ct);
        if (attempt is null) return null;
        var runner = attempt.RunnerId is { } id ? (await runners.ListAsync(ct)).FirstOrDefault(r => r.Id == id)?.Name ?? $"#{id}" : null;
        return new AttemptDetail(attempt.Id, attempt.RunId, attempt.Number, attempt.Status, runner, attempt.QueuedAt, attempt.StartedAt,
            attempt.FinishedAt, attempt.ExitCode, attempt.FailureReason, attempt.Steps);
    }

    /// <summary>The attempt's log and the organisation it belongs to; the latest attempt when <paramref name="number"/> is null.</summary>
    public async Task<(long OrgId, LogDownload Download)?> DownloadAsync(long jobId, int? number, CancellationToken ct)
    {
        var query = db.Set<JobAttempt>().AsNoTracking().Where(a => a.JobId == jobId);
        query = number is { } n ? query.Where(a => a.Number == n) : query.OrderByDescending(a => a.Number);
        var found = await query
            .Select(a => new { a.Run!.OrgId, a.RunId, a.Id, a.Number, Job = a.Job!.Name, RunNumber = a.Run.Number, a.Run.ProjectId })
            .FirstOrDefaultAsync(ct);
        if (found is null) return null;
        var project = (await projects.FindAsync(found.ProjectId.ToString(CultureInfo.InvariantCulture), ct))?.Name ?? "run";
        return (found.OrgId, new LogDownload(found.RunId, found.Id, FileName($"{project}-{found.RunNumber}-{found.Job}-attempt{found.Number}.log")));
    }

    /// <summary>Letters, digits, '-', '_' and '.' only: a matrix job's name ("build (a, 1)") makes a name any system accepts.</summary>
    private static string FileName(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}

internal sealed record LogDownload(long RunId, long AttemptId, string FileName);
