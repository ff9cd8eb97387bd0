using BuildServer.Modules.Executors;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// A step's command files (<c>GITHUB_ENV</c>, <c>GITHUB_OUTPUT</c>, <c>GITHUB_PATH</c>,
/// <c>GITHUB_STEP_SUMMARY</c>, <c>GITHUB_STATE</c>): created empty before the step in the execution's temp
/// folder, read after it. Fresh per step, as in GitHub, so a step sees only what it wrote itself.
/// </summary>
internal sealed class FileCommands
{
    /// <summary>GitHub's cap on one step's summary.</summary>
    public const int MaxSummaryBytes = 1024 * 1024;

    private static readonly (string Variable, string Prefix)[] Files =
    [
        ("GITHUB_ENV", "set_env"),
        ("GITHUB_OUTPUT", "set_output"),
        ("GITHUB_PATH", "add_path"),
        ("GITHUB_STEP_SUMMARY", "step_summary"),
        ("GITHUB_STATE", "save_state"),
    ];

    private readonly IExecution _execution;

    private FileCommands(IExecution execution, Dictionary<string, string> paths) => (_execution, Paths) = (execution, paths);

    /// <summary>Variable name → the file's path as the step sees it.</summary>
    public IReadOnlyDictionary<string, string> Paths { get; }

    public static FileCommands Create(IExecution execution, int stepIndex)
    {
        var folder = $"{execution.TempFolder}/_runner_file_commands";
        Directory.CreateDirectory(execution.ToHostPath(folder));
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (variable, prefix) in Files)
        {
            var path = $"{folder}/{prefix}_{stepIndex}";
            File.WriteAllText(execution.ToHostPath(path), "");
            paths[variable] = path;
        }
        return new FileCommands(execution, paths);
    }

    public string Read(string variable)
    {
        var host = _execution.ToHostPath(Paths[variable]);
        return File.Exists(host) ? File.ReadAllText(host) : "";
    }

    public long Size(string variable)
    {
        var host = new FileInfo(_execution.ToHostPath(Paths[variable]));
        return host.Exists ? host.Length : 0;
    }

    /// <summary>
    /// The <c>NAME=value</c> and <c>NAME&lt;&lt;DELIMITER</c> … <c>DELIMITER</c> lines of an env-style file, in
    /// order, as GitHub's runner reads them: empty lines are skipped; whichever of <c>=</c> and <c>&lt;&lt;</c>
    /// comes first decides the form; a heredoc's lines are joined with LF.
    /// </summary>
    /// <returns>null on success, otherwise what is wrong.</returns>
    public static string? ParseKeyValues(string content, List<KeyValuePair<string, string>> into)
    {
        var lines = content.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Length == 0) continue;
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var heredoc = line.IndexOf("<<", StringComparison.Ordinal);
            if (equals >= 0 && (heredoc < 0 || equals < heredoc))
            {
                var name = line[..equals];
                if (name.Length == 0) return $"invalid format '{line}': the name is empty";
                into.Add(new(name, line[(equals + 1)..]));
            }
            else if (heredoc >= 0)
            {
                var name = line[..heredoc];
                var delimiter = line[(heredoc + 2)..];
                if (name.Length == 0 || delimiter.Length == 0) return $"invalid format '{line}'";
                var end = lines.FindIndex(i + 1, l => l == delimiter);
                if (end < 0) return $"matching delimiter not found '{delimiter}'";
                into.Add(new(name, string.Join('\n', lines.Skip(i + 1).Take(end - i - 1))));
                i = end;
            }
            else
            {
                return $"invalid format '{line}'";
            }
        }
        return null;
    }
}
