using System.Globalization;

namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>Checks a POSIX cron expression as GitHub accepts it in <c>on.schedule</c>: five fields (minute, hour,
/// day of month, month, day of week), each a list of <c>*</c>, values, ranges and <c>/step</c>s, with JAN..DEC
/// and SUN..SAT names.</summary>
internal static class CronSchedule
{
    private sealed record Field(string Name, int Min, int Max, string[]? Names);

    private static readonly Field[] Fields =
    [
        new("minute", 0, 59, null),
        new("hour", 0, 23, null),
        new("day of month", 1, 31, null),
        new("month", 1, 12, ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]),
        new("day of week", 0, 6, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]),
    ];

    /// <summary>Null when valid, otherwise what is wrong.</summary>
    public static string? Validate(string cron)
    {
        ArgumentNullException.ThrowIfNull(cron);
        var parts = cron.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 5)
        {
            return $"it has {parts.Length} field{(parts.Length == 1 ? "" : "s")}; a cron schedule has 5 (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'";
        }
        for (var i = 0; i < 5; i++)
        {
            foreach (var item in parts[i].Split(','))
            {
                if (CheckItem(item, Fields[i]) is { } problem) return $"the {Fields[i].Name} field '{parts[i]}' {problem}";
            }
        }
        return null;
    }

    private static string? CheckItem(string item, Field field)
    {
        var slash = item.IndexOf('/', StringComparison.Ordinal);
        var range = slash < 0 ? item : item[..slash];
        if (slash >= 0)
        {
            var step = item[(slash + 1)..];
            if (!int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > field.Max)
            {
                return $"has an invalid step '/{step}' (a whole number from 1 to {field.Max})";
            }
        }
        if (range == "*") return null;
        var dash = range.IndexOf('-', StringComparison.Ordinal);
        var low = dash < 0 ? range : range[..dash];
        if (Value(low, field) is not { } from) return Invalid(low, field);
        if (dash < 0) return null;
        var high = range[(dash + 1)..];
        if (Value(high, field) is not { } to) return Invalid(high, field);
        return from > to ? $"has the range '{range}' whose start is after its end" : null;
    }

    private static string Invalid(string value, Field field) =>
        $"has '{value}', which is not {(field.Names is null ? "" : "a name or ")}a number from {field.Min} to {field.Max}";

    private static int? Value(string text, Field field)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return n >= field.Min && n <= field.Max ? n : null;
        }
        var index = field.Names is null ? -1 : Array.FindIndex(field.Names, name => name.Equals(text, StringComparison.OrdinalIgnoreCase));
        return index < 0 ? null : index + field.Min;
    }
}
