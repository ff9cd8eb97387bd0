using BuildServer.Modules.Web.Components;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>How long a job or an attempt ran (or has been running: to <c>now</c>), as the run page writes it.</summary>
internal static class JobTimes
{
    public static string? Took(DateTimeOffset? started, DateTimeOffset? finished, DateTimeOffset now) =>
        started is { } from ? TimeText.Duration(((finished ?? now) - from) is var span && span > TimeSpan.Zero ? span : TimeSpan.Zero) : null;

    public static string? Took(JobView job, DateTimeOffset now) => Took(job.StartedAt, job.FinishedAt, now);

    /// <summary>The duration once started, else the status ("queued", "skipped"): a node always says something.</summary>
    public static string Shown(JobView job, DateTimeOffset now) => Took(job, now) ?? StatusLook.Words(job.Status);
}
