using System.Text;

namespace BuildServer.Modules.Runtime;

/// <summary>A <c>::name key=value,key=value::data</c> line, unescaped.</summary>
internal sealed record WorkflowCommand(string Name, IReadOnlyDictionary<string, string> Properties, string Data);

/// <summary>The workflow command syntax of GitHub's toolkit: data escapes <c>%</c>, CR and LF as <c>%25</c>,
/// <c>%0D</c>, <c>%0A</c>; property values also <c>:</c> and <c>,</c> as <c>%3A</c>, <c>%2C</c>.</summary>
internal static class WorkflowCommands
{
    private const string Marker = "::";

    public static bool TryParse(string line, out WorkflowCommand? command)
    {
        command = null;
        var text = line.TrimStart();
        if (!text.StartsWith(Marker, StringComparison.Ordinal)) return false;
        var end = text.IndexOf(Marker, Marker.Length, StringComparison.Ordinal);
        if (end < 0) return false;
        var head = text[Marker.Length..end];
        var space = head.IndexOf(' ', StringComparison.Ordinal);
        var name = space < 0 ? head : head[..space];
        if (name.Length == 0) return false;
        var properties = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (space >= 0)
        {
            foreach (var pair in head[(space + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0) properties[pair[..equals]] = Unescape(pair[(equals + 1)..], property: true);
            }
        }
        command = new WorkflowCommand(name, properties, Unescape(text[(end + Marker.Length)..], property: false));
        return true;
    }

    /// <summary>One pass, left to right, so an escaped <c>%</c> followed by <c>0A</c> stays as written.</summary>
    public static string Unescape(string text, bool property)
    {
        if (!text.Contains('%', StringComparison.Ordinal)) return text;
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var code = text[i] == '%' && i + 2 < text.Length ? text.Substring(i + 1, 2) : null;
            var decoded = code switch
            {
                "25" => '%',
                "0D" => '\r',
                "0A" => '\n',
                "3A" when property => ':',
                "2C" when property => ',',
                _ => (char?)null,
            };
            if (decoded is { } c)
            {
                result.Append(c);
                i += 2;
            }
            else
            {
                result.Append(text[i]);
            }
        }
        return result.ToString();
    }
}
