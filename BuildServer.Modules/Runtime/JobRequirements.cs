using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runtime;

/// <summary>What a job asks of its executor that the shell executor cannot give; checked before a job starts
/// so that it fails with a reason instead of silently running on the host.</summary>
public static class JobRequirements
{
    /// <summary>Null when the shell executor can run the job, else the reason it cannot.</summary>
    public static string? ShellCannotRun(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Container is { } container)
        {
            return $"job '{spec.Name}' runs in the container '{container.Image.Text}', and this agent has no Docker executor yet";
        }
        if (spec.Services.Count > 0)
        {
            return $"job '{spec.Name}' needs service containers ({string.Join(", ", spec.Services.Keys)}), and this agent has no Docker executor yet";
        }
        return null;
    }
}
