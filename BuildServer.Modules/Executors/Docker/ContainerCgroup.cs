using System.Globalization;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>The kernel's counters of one container's cgroup, read from the agent's host: they tell why a step's
/// process died when the engine does not (it flags OOMKilled only when the container's main process dies, and
/// never reports the pids limit; a step is an exec). Cgroup v1 (this project's machines) and v2 layouts.</summary>
internal sealed class ContainerCgroup(string containerId)
{
    /// <summary>Processes the kernel killed at the memory limit so far.</summary>
    public long OomKills() => Counter("oom_kill",
        $"/sys/fs/cgroup/memory/docker/{containerId}/memory.oom_control",
        $"/sys/fs/cgroup/system.slice/docker-{containerId}.scope/memory.events",
        $"/sys/fs/cgroup/docker/{containerId}/memory.events");

    /// <summary>Forks refused at the pids limit so far.</summary>
    public long PidsLimitHits() => Counter("max",
        $"/sys/fs/cgroup/pids/docker/{containerId}/pids.events",
        $"/sys/fs/cgroup/system.slice/docker-{containerId}.scope/pids.events",
        $"/sys/fs/cgroup/docker/{containerId}/pids.events");

    private static long Counter(string name, params string[] files)
    {
        foreach (var file in files)
        {
            try
            {
                var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal));
                if (line is not null && long.TryParse(line.AsSpan(name.Length + 1), CultureInfo.InvariantCulture, out var count)) return count;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // not this cgroup layout
            }
        }
        return 0;
    }
}
