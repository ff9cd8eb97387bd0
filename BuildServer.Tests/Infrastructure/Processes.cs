namespace BuildServer.Tests.Infrastructure;

public static class Processes
{
    /// <summary>True when the process has ended: gone from /proc, or a zombie waiting for its (re)parent to reap it.</summary>
    public static bool HasEnded(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }
}
