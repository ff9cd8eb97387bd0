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

    /// <summary>True while any process of the group is alive (signal 0 only checks). A zombie counts: use
    /// <see cref="HasLiveMembers"/> to know whether anything still runs.</summary>
    public static bool IsAlive(int pgid) => pgid > 1 && Kill(-pgid, 0) == 0;

    /// <summary>True while a process of the group is still running: present and not a zombie waiting to be
    /// reaped (killed processes linger as zombies until their parent, or init, collects them).</summary>
    public static bool HasLiveMembers(int pgid)
    {
        if (!IsAlive(pgid)) return false;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.IsEmpty || !char.IsAsciiDigit(name[0])) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // ended meanwhile
            }
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so parse after the last ')'.
            var fields = stat.AsSpan(stat.LastIndexOf(')') + 2);
            var state = fields[0];
            fields = fields[(fields.IndexOf(' ') + 1)..]; // ppid
            fields = fields[(fields.IndexOf(' ') + 1)..]; // pgrp
            var end = fields.IndexOf(' ');
            if (state != 'Z' && int.TryParse(end < 0 ? fields : fields[..end], out var group) && group == pgid) return true;
        }
        return false;
    }

    /// <summary>Waits, polling, until no process of the group runs any more or <paramref name="limit"/> has passed.</summary>
    public static async Task<bool> WaitUntilGoneAsync(int pgid, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (HasLiveMembers(pgid))
        {
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(20);
        }
        return true;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
