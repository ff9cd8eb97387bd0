namespace BuildServer.Modules.Runtime;

/// <summary>
/// Replaces every registered value (secrets, <c>::add-mask::</c> values) with <c>***</c>. As GitHub's runner:
/// a multi-line value is also masked line by line (a tool may print one line of it), values of only whitespace
/// are ignored, and short values are masked too, however much they hide. Overlapping matches merge into one
/// <c>***</c>. Thread-safe: registration and masking may race (a step's stdout and stderr).
/// </summary>
internal sealed class SecretMasker
{
    public const string Mask = "***";

    private readonly Lock _lock = new();
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private string[] _values = [];

    public void Add(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return;
        lock (_lock)
        {
            var added = _known.Add(value);
            foreach (var line in value.Split('\n'))
            {
                var trimmed = line.TrimEnd('\r');
                if (!string.IsNullOrWhiteSpace(trimmed)) added |= _known.Add(trimmed);
            }
            if (added) _values = [.. _known.OrderByDescending(v => v.Length)];
        }
    }

    /// <summary>Whether <paramref name="text"/> holds a registered value.</summary>
    public bool Reveals(string text) => !string.Equals(Apply(text), text, StringComparison.Ordinal);

    public string Apply(string text)
    {
        var values = Volatile.Read(ref _values);
        if (values.Length == 0 || text.Length == 0) return text;
        bool[]? hidden = null;
        foreach (var value in values)
        {
            for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + 1, StringComparison.Ordinal))
            {
                hidden ??= new bool[text.Length];
                Array.Fill(hidden, true, at, value.Length);
            }
        }
        if (hidden is null) return text;
        var result = new System.Text.StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (!hidden[i]) result.Append(text[i]);
            else if (i == 0 || !hidden[i - 1]) result.Append(Mask);
        }
        return result.ToString();
    }
}
