using System.Security.Cryptography;
using Microsoft.Extensions.FileSystemGlobbing;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// <c>hashFiles(patterns...)</c>: the files under the workspace matching the glob patterns (a <c>!</c> prefix
/// excludes), in ordinal path order; the SHA-256 of the concatenated SHA-256 digests of their contents, as lowercase
/// hex, or "" when nothing matches. Symbolic links to directories are not followed, so a link cycle cannot loop.
/// </summary>
internal static class HashFiles
{
    public static string Compute(string? workspaceRoot, IReadOnlyList<string> patterns)
    {
        if (string.IsNullOrEmpty(workspaceRoot) || !Directory.Exists(workspaceRoot))
        {
            throw new ExpressionException("hashFiles: there is no workspace to search in this evaluation.");
        }
        var root = Path.GetFullPath(workspaceRoot);
        var matcher = new Matcher(StringComparison.Ordinal);
        var includes = 0;
        foreach (var raw in patterns)
        {
            var exclude = raw.StartsWith('!');
            var pattern = Relative(root, exclude ? raw[1..] : raw);
            if (pattern is null) continue; // outside the workspace: matches nothing, as in GitHub
            if (exclude)
            {
                matcher.AddExclude(pattern);
            }
            else
            {
                matcher.AddInclude(pattern);
                includes++;
            }
        }
        if (includes == 0) return "";
        try
        {
            var files = matcher.Match(root, EnumerateFiles(root)).Files
                .Select(match => match.Path)
                .Order(StringComparer.Ordinal)
                .ToList();
            if (files.Count == 0) return "";
            using var overall = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var file in files)
            {
                using var stream = File.OpenRead(Path.Combine(root, file));
                overall.AppendData(SHA256.HashData(stream));
            }
            return Convert.ToHexStringLower(overall.GetHashAndReset());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExpressionException($"hashFiles: {e.Message}", e);
        }
    }

    private static string? Relative(string root, string pattern)
    {
        pattern = pattern.Trim();
        if (Path.IsPathRooted(pattern))
        {
            var relative = Path.GetRelativePath(root, pattern);
            if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative)) return null;
            pattern = relative;
        }
        while (pattern.StartsWith("./", StringComparison.Ordinal)) pattern = pattern[2..];
        return pattern.Length == 0 ? null : pattern;
    }

    // An explicit stack instead of recursion, a cap on entries, and no descent into linked directories.
    private static List<string> EnumerateFiles(string root)
    {
        var files = new List<string>();
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(root));
        var visited = 0;
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, RecurseSubdirectories = false };
        while (pending.Count > 0)
        {
            foreach (var entry in pending.Pop().EnumerateFileSystemInfos("*", options))
            {
                if (++visited > Limits.MaxHashFilesEntries)
                {
                    throw new ExpressionException($"hashFiles: the workspace holds more than {Limits.MaxHashFilesEntries} entries.");
                }
                if (entry is DirectoryInfo directory)
                {
                    if (directory.LinkTarget is null) pending.Push(directory);
                }
                else if (entry is FileInfo file && (file.LinkTarget is null || File.Exists(file.FullName)))
                {
                    files.Add(file.FullName);
                }
            }
        }
        return files;
    }
}
