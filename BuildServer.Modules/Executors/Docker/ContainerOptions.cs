using System.Text;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>The flags of a <c>container.options</c> or a service's <c>options</c>, split into words as a shell
/// would (quotes group words, as in <c>--health-cmd "redis-cli ping"</c>), each flag with its value
/// (<c>--cpus 2</c> or <c>--cpus=2</c>). Only flags the caller supports pass; any other fails, naming it.</summary>
internal static class ContainerOptions
{
    /// <param name="what">How the messages name an option: <c>container option</c>, <c>service 'db' option</c>.</param>
    /// <exception cref="ExecutorException">an unsupported flag, a flag without its value, an unclosed quote.</exception>
    public static IReadOnlyList<(string Flag, string Value)> Parse(string? options, IReadOnlyList<string> supported, string what)
    {
        var words = Words(options ?? "", what);
        var flags = new List<(string Flag, string Value)>();
        for (var i = 0; i < words.Count; i++)
        {
            var (flag, value) = words[i].StartsWith('-') && words[i].IndexOf('=', StringComparison.Ordinal) is var eq and > 0
                ? (words[i][..eq], words[i][(eq + 1)..])
                : (words[i], null);
            if (!supported.Contains(flag))
            {
                throw new ExecutorException($"{what} '{flag}' is not supported (supported: {string.Join(", ", supported)})");
            }
            value ??= i + 1 < words.Count ? words[++i] : throw new ExecutorException($"{what} '{flag}' needs a value");
            flags.Add((flag, value));
        }
        return flags;
    }

    /// <summary>Words separated by white space; single quotes keep everything, double quotes keep all but a
    /// backslash before <c>"</c> or <c>\</c>, a backslash outside quotes keeps the next character.</summary>
    private static List<string> Words(string text, string what)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            inWord = true;
            if (c == '\\' && i + 1 < text.Length)
            {
                word.Append(text[++i]);
            }
            else if (c is '\'' or '"')
            {
                var end = i + 1;
                for (; end < text.Length && text[end] != c; end++)
                {
                    if (c == '"' && text[end] == '\\' && end + 1 < text.Length && text[end + 1] is '"' or '\\') end++;
                    word.Append(text[end]);
                }
                if (end == text.Length) throw new ExecutorException($"{what}s: a quote ({c}) is not closed");
                i = end;
            }
            else
            {
                word.Append(c);
            }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }
}
