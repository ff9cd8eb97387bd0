namespace BuildServer.Modules.Scheduling;

/// <summary>The priority lanes, in the order they are served: a job never waits behind a job of a later lane
/// for the same capacity (aging aside, see <see cref="SchedulerOptions.AgingStep"/>).</summary>
public enum Lane
{
    Critical = 0,
    High = 1,
    Normal = 2,
    Low = 3,
}

public static class Lanes
{
    public static readonly IReadOnlyList<Lane> All = [Lane.Critical, Lane.High, Lane.Normal, Lane.Low];

    public static string ToWire(this Lane lane) => lane switch
    {
        Lane.Critical => "critical",
        Lane.High => "high",
        Lane.Normal => "normal",
        _ => "low",
    };

    public static bool TryParse(string? text, out Lane lane)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "critical": lane = Lane.Critical; return true;
            case "high": lane = Lane.High; return true;
            case "normal": lane = Lane.Normal; return true;
            case "low": lane = Lane.Low; return true;
            default: lane = Lane.Normal; return false;
        }
    }

    public static readonly Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<Lane, string> Column =
        new(l => l.ToWire(), s => Parse(s));

    private static Lane Parse(string s) => TryParse(s, out var lane) ? lane : Lane.Normal;

    /// <summary>The later (lower-priority) of the two: a project's cap applied to a requested lane.</summary>
    public static Lane AtMost(this Lane requested, Lane cap) => requested < cap ? cap : requested;
}
