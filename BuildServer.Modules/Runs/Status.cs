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

    public static Status FromWire(string value) =>
        TryFromWire(value, out var status) ? status : throw new FormatException($"'{value}' is not a status.");

    /// <summary>Parses the wire word (<c>queued</c>, <c>timed_out</c>, …); numbers and other spellings are refused.</summary>
    public static bool TryFromWire(string? value, out Status status)
    {
        status = default;
        var match = Enum.GetValues<Status>().Where(s => s.ToWire() == value).ToList();
        if (match.Count != 1) return false;
        status = match[0];
        return true;
    }

    public static string WireWords => string.Join(", ", Enum.GetValues<Status>().Select(s => s.ToWire()));
}
