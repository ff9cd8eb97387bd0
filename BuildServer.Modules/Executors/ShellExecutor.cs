using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Executors;

/// <summary>
/// Runs steps as processes on the agent's host, for trusted jobs: each step is
/// <c>bash --noprofile --norc -eo pipefail step.sh</c> in its own session and process group (via
/// <c>setsid</c>), in a per-attempt work folder <c>data/work/&lt;attempt&gt;/</c>, with a clean environment.
/// Every step process carries <see cref="WorkRootMarker"/> in its environment, so the next start finds and
/// kills what a crashed server left running (and only this server's: several may share a machine).
/// </summary>
internal sealed class ShellExecutor(DataDirectory data, IOptions<ShellExecutorOptions> options, ILogger<ShellExecutor> logger) : IExecutor
{
    public const string AttemptMarker = "BUILDSERVER_ATTEMPT_ID";
    public const string WorkRootMarker = "BUILDSERVER_WORK_ROOT";

    public string Name => "shell";

    internal string WorkRoot => data.Folder("work");

    /// <summary>Sourced by each step's bash before its script; see <see cref="ShellExecution"/>.</summary>
    internal string StderrToStdoutPreamble => _preamble.Value;

    private readonly Lazy<string> _preamble = new(() =>
    {
        var path = Path.Combine(data.Folder("work"), ".stderr-to-stdout.sh");
        File.WriteAllText(path, "exec 2>&1; unset BASH_ENV\n");
        return path;
    });

    public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        var root = Path.Combine(WorkRoot, request.AttemptId.ToString());
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true); // a stale folder of a crashed earlier try of this attempt
        }
        var execution = new ShellExecution(this, request, root, options.Value, logger);
        return Task.FromResult<IExecution>(execution);
    }

    public Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        foreach (var pid in MarkedProcesses.Find(WorkRoot))
        {
            logger.LogWarning("Killing process {Pid}, left running by a step of an earlier start", pid);
            ProcessGroups.Signal(pid, ProcessGroups.SigKill); // as a group, if it leads one
            ProcessGroups.KillProcess(pid);
        }
        if (!options.Value.KeepWorkspaces)
        {
            foreach (var dir in Directory.EnumerateDirectories(WorkRoot).Where(d => long.TryParse(Path.GetFileName(d), out _)))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        return Task.CompletedTask;
    }

    internal void Forget(string root)
    {
        if (!options.Value.KeepWorkspaces && Directory.Exists(root))
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException e)
            {
                logger.LogWarning(e, "Could not remove the work folder {Folder}", root);
            }
        }
    }
}

/// <summary>Finds processes by the markers every step process (and all it starts) inherits in its environment.</summary>
internal static class MarkedProcesses
{
    /// <summary>Pids of live processes whose environment has <c>BUILDSERVER_WORK_ROOT=&lt;workRoot&gt;</c>.</summary>
    public static IEnumerable<int> Find(string workRoot)
    {
        var marker = $"{ShellExecutor.WorkRootMarker}={workRoot}";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            string environ;
            try
            {
                environ = File.ReadAllText(Path.Combine(dir, "environ"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone already, or not ours to read
            }
            if (environ.Split('\0').Contains(marker))
            {
                yield return pid;
            }
        }
    }
}
