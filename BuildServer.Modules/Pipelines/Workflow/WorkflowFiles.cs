namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>Reading workflow files for the CLI verbs (<c>validate</c>, <c>run</c>): size-checked before reading.</summary>
public static class WorkflowFiles
{
    /// <summary>A parser with the built-in step kinds, for use without the server's services.</summary>
    public static IWorkflowParser CreateParser() => new WorkflowParser(new StepKindRegistry());

    /// <summary>The file's text, or null with a one-line reason (missing, unreadable, too large).</summary>
    public static string? Read(string path, out string? error)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                error = Directory.Exists(path) ? "is a folder, not a workflow file" : "no such file";
                return null;
            }
            if (info.Length > PipelineLimits.MaxBytes)
            {
                error = $"1:1: the file is larger than {PipelineLimits.MaxBytes / 1024} KiB ({info.Length / 1024} KiB)";
                return null;
            }
            error = null;
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error = "cannot be read: " + e.Message;
            return null;
        }
    }
}
