using System.Globalization;

namespace BuildServer.Modules.Web.Components;

/// <summary>Times and durations as the UI writes them: relative for reading at a glance, exact (UTC) on demand.</summary>
public static class TimeText
{
    public static string Exact(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public static string Relative(DateTimeOffset at, DateTimeOffset now)
    {
        var ago = now - at;
        var future = ago < TimeSpan.Zero;
        var span = future ? -ago : ago;
        var text = span.TotalSeconds < 10 ? null
            : span.TotalMinutes < 1 ? $"{(int)span.TotalSeconds} s"
            : span.TotalHours < 1 ? $"{(int)span.TotalMinutes} min"
            : span.TotalDays < 1 ? $"{(int)span.TotalHours} h"
            : span.TotalDays < 60 ? $"{(int)span.TotalDays} d"
            : null;
        if (text is null)
        {
            return span.TotalSeconds < 10 ? "just now" : at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }
        return future ? "in " + text : text + " ago";
    }

    /// <summary>"850 ms", "42 s", "3 m 05 s", "2 h 07 m".</summary>
    public static string Duration(TimeSpan span) =>
        span.TotalSeconds < 1 ? $"{(int)span.TotalMilliseconds} ms"
        : span.TotalMinutes < 1 ? $"{(int)span.TotalSeconds} s"
        : span.TotalHours < 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes} m {span.Seconds:00} s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours} h {span.Minutes:00} m");
}
