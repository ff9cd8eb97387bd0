using System.Globalization;

namespace BuildServer.Modules.Security.Ui.Admin;

/// <summary>How the administration pages write times: exact, in UTC (they may not use the Web module's relative times).</summary>
internal static class AdminText
{
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static string ExactTime(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
