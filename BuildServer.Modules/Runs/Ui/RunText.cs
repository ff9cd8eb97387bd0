using BuildServer.Modules.Web.Components;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>How the pages write a run's ref, sha and duration.</summary>
internal static class RunText
{
    /// <summary>"main" for refs/heads/main, "tag v1" for refs/tags/v1, "—" for none.</summary>
    public static string Branch(string? gitRef) => gitRef switch
    {
        null or "" => "—",
        _ when gitRef.StartsWith("refs/heads/", StringComparison.Ordinal) => gitRef["refs/heads/".Length..],
        _ when gitRef.StartsWith("refs/tags/", StringComparison.Ordinal) => "tag " + gitRef["refs/tags/".Length..],
        _ => gitRef,
    };

    public static string ShortSha(string sha) => sha[..Math.Min(7, sha.Length)];

    /// <summary>From its start to its end (or now, while it runs); "—" before it starts.</summary>
    public static string Duration(RunSummary run, DateTimeOffset now) => Duration(run.StartedAt, run.FinishedAt, now);

    public static string Duration(DateTimeOffset? started, DateTimeOffset? finished, DateTimeOffset now) => started is { } start
        ? TimeText.Duration((finished ?? now) - start)
        : "—";
}
