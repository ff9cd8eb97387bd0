using System.Runtime.InteropServices;

namespace BuildServer.Modules.Executors;

/// <summary>Signals to whole process groups (a step and everything it started), through libc's kill(2).</summary>
internal static partial class ProcessGroups
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>Sends <paramref name="signal"/> to every process of the group led by <paramref name="pgid"/>; false if none is left.</summary>
    public static bool Signal(int pgid, int signal) => pgid > 1 && Kill(-pgid, signal) == 0;

    public static void KillProcess(int pid)
    {
        if (pid > 1) Kill(pid, SigKill);
    }

    /// <summary>True while any process of the group is alive (signal 0 only checks).</summary>
    public static bool IsAlive(int pgid) => pgid > 1 && Kill(-pgid, 0) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
