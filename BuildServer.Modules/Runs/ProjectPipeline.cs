using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Projects;

namespace BuildServer.Modules.Runs;

/// <summary>
/// What a run of a project is started with when no pipeline is given: the file at the project's pipeline path, read
/// when the run is triggered (the API's trigger and the web UI's Run form read it the same way). Also the rules of a
/// trigger's ref and sha, which both check.
/// </summary>
internal static class ProjectPipeline
{
    public const int MaxRef = 500;
    public const int MaxSha = 64;

    /// <summary>The file's text, or why there is none (no path, too large, unreadable) in a sentence.</summary>
    public static async Task<(string? Text, string? Error)> ReadAsync(ProjectInfo project, CancellationToken ct)
    {
        if (project.PipelinePath is not { } path)
        {
            return (null, "No pipeline given, and the project has no pipelinePath to read one from.");
        }
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length > PipelineLimits.MaxBytes)
            {
                return (null, $"The project's pipeline file '{path}' is larger than {PipelineLimits.MaxBytes / 1024} KiB.");
            }
            return (await File.ReadAllTextAsync(path, ct), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"No pipeline given, and the project's pipeline file '{path}' cannot be read: {e.Message}");
        }
    }

    /// <summary>The first wrong one of a trigger's ref and sha (field and sentence), or null.</summary>
    public static (string Field, string Message)? CheckRefAndSha(string? gitRef, string? sha) =>
        gitRef is { Length: > MaxRef } ? ("ref", $"The ref is longer than {MaxRef} characters.")
        : sha is { Length: > MaxSha } ? ("sha", $"The sha is longer than {MaxSha} characters.")
        : null;
}
