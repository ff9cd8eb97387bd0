namespace BuildServer.Modules.Runs.Ui;

/// <summary>A run's ref as people say it: the branch name, "tag v1.2", or the ref as it is.</summary>
internal static class RunRefs
{
    public static string Branch(string? gitRef) => gitRef switch
    {
        null or "" => "—",
        _ when gitRef.StartsWith("refs/heads/", StringComparison.Ordinal) => gitRef["refs/heads/".Length..],
        _ when gitRef.StartsWith("refs/tags/", StringComparison.Ordinal) => "tag " + gitRef["refs/tags/".Length..],
        _ => gitRef,
    };
}
