using System.Runtime.InteropServices;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// The calling thread's CPU time (<c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>), in microseconds. Beside the
/// wall time of a decision it tells the work from the waiting: on a busy 2-core machine a thread is often
/// descheduled in the middle of a call, which shows in its wall time but not in its CPU time.
/// </summary>
internal static partial class ThreadCpu
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    public static double NowMicroseconds()
    {
        ClockGetTime(ClockThreadCpuTimeId, out var t);
        return t.Seconds * 1e6 + t.Nanoseconds / 1e3;
    }
}
