namespace BuildServer.Tests.Infrastructure;

/// <summary>Paths in the repository the tests run from.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    /// <summary>The server built beside these tests (the test project builds it first).</summary>
    public static string ServerDll => Path.Combine(Root, "BuildServer", "bin", Configuration, "net10.0", "buildserver.dll");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BuildServer.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("The tests must run inside the repository (BuildServer.sln not found above " + AppContext.BaseDirectory + ").");
    }
}
