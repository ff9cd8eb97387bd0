namespace BuildServer.Modules.Runs;

/// <summary>
/// The one status vocabulary of runs, jobs, attempts and steps, shared by the API (snake_case JSON),
/// the database (the same words as text) and, later, the UI.
/// </summary>
public enum Status
{
    /// <summary>Waiting for something other than capacity: needs, quota, approval.</summary>
    Pending,
    /// <summary>Ready to run, waiting for an agent slot.</summary>
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Skipped,
    TimedOut,
    /// <summary>Attempts only: the runner died or the server restarted while it ran.</summary>
    Lost,
}

public static class StatusExtensions
{
    public static bool IsFinished(this Status status) =>
        status is Status.Succeeded or Status.Failed or Status.Cancelled or Status.Skipped or Status.TimedOut or Status.Lost;

    public static string ToWire(this Status status) => status switch
    {
        Status.TimedOut => "timed_out",
        _ => status.ToString().ToLowerInvariant(),
    };

    public static Status FromWire(string value) => value switch
    {
        "timed_out" => Status.TimedOut,
        _ => Enum.Parse<Status>(value, ignoreCase: true),
    };
}
