using System.CommandLine;

namespace BuildServer;

internal static class Verbs
{
    /// <summary><c>buildserver --urls X</c> means <c>buildserver serve --urls X</c>; <c>--help</c> and <c>--version</c> stay the root's.</summary>
    public static string[] DefaultToServe(string[] args, RootCommand root)
    {
        if (args.Length == 0)
        {
            return ["serve"];
        }
        var first = args[0];
        var isVerb = root.Subcommands.Any(c => c.Name == first || c.Aliases.Contains(first));
        var isRootOption = first is "--help" or "-h" or "-?" or "--version";
        return isVerb || isRootOption ? args : ["serve", .. args];
    }

    /// <summary>The data folder switch shared by the verbs; it becomes the <c>DataDir</c> setting.</summary>
    public static Option<string?> DataDirOption() => new("--data-dir")
    {
        Description = "The data folder: database (SQLite), logs, workspaces. Default: ./data",
    };

    /// <summary>Host arguments: the unmatched tokens (ASP.NET Core's own switches such as --urls) plus --data-dir.</summary>
    public static string[] HostArgs(ParseResult result, Option<string?> dataDir)
    {
        var args = result.UnmatchedTokens.ToList();
        if (result.GetValue(dataDir) is { Length: > 0 } dir)
        {
            args.Add("--DataDir=" + dir);
        }
        return [.. args];
    }
}
