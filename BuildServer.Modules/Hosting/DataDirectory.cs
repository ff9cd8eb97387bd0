using Microsoft.Extensions.Configuration;

namespace BuildServer.Modules.Hosting;

/// <summary>
/// The server's data folder (database, logs, workspaces, keys). Backing up a SQLite install is copying
/// this folder. Configured by <c>DataDir</c> (the <c>--data-dir</c> switch); relative paths are taken from
/// the current directory.
/// </summary>
public sealed class DataDirectory
{
    public DataDirectory(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Creates (if needed) and returns a sub-folder.</summary>
    public string Folder(string name)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public static DataDirectory FromConfiguration(IConfiguration configuration) =>
        new(configuration["DataDir"] is { Length: > 0 } dir ? dir : "data");
}
