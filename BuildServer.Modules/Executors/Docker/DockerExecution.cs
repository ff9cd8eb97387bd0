using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>One attempt's container. Steps run one after another as execs of their script (written on the host
/// into the read-only mounted steps folder); their output is demultiplexed into stdout and stderr lines. The job's
/// service containers (in the job container's network) are removed with it.</summary>
internal sealed class DockerExecution(
    DockerExecutor executor,
    ExecutionRequest request,
    string containerId,
    IReadOnlyList<string> serviceIds,
    string root,
    string hostWorkspace) : IExecution
{
    public const string WorkspacePath = DockerExecutor.ContainerRoot + "/workspace";
    public const string TempPath = DockerExecutor.ContainerRoot + "/_temp";
    public const string StepsPath = DockerExecutor.ContainerRoot + "/_steps";

    /// <summary>The reason given for a step the kernel killed at the memory limit.</summary>
    public const string OomReason = "out of memory (OOM-killed)";

    /// <summary>The reason given for a step that hit the container's limit on processes.</summary>
    public const string PidsReason = "pids limit reached (a fork was refused)";

    /// <summary>When an image has no PATH of its own (an imported root file system).</summary>
    private const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly ContainerCgroup _cgroup = new(containerId);

    public string ContainerId => containerId;

    public string Workspace => WorkspacePath;

    public string TempFolder => TempPath;

    public string ToHostPath(string stepPath)
    {
        ArgumentNullException.ThrowIfNull(stepPath);
        if (Under(stepPath, WorkspacePath) is { } inWorkspace) return Path.Combine(hostWorkspace, inWorkspace);
        if (Under(stepPath, TempPath) is { } inTemp) return Path.Combine(root, "tmp", inTemp);
        throw new ArgumentException($"'{stepPath}' is neither in the workspace nor in the temp folder", nameof(stepPath));
    }

    private static string? Under(string path, string folder) =>
        path == folder ? "" : path.StartsWith(folder + "/", StringComparison.Ordinal) ? path[(folder.Length + 1)..] : null;

    public async Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(executionStep);
        ArgumentNullException.ThrowIfNull(output);
        try
        {
            return await RunExecAsync(executionStep, output, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new StepResult(137, Cancelled: true);
        }
        catch (DockerApiException e)
        {
            // The container was removed (a cancel or timeout of an earlier step) or died: the step cannot run. An
            // always() step after a cancel lands here, and must fail with a reason, not throw.
            output.Line($"The step could not run: {GoneReason} ({FirstLine(e.ResponseBody ?? e.Message)})", OutputChannel.Stderr);
            return new StepResult(125, cancellationToken.IsCancellationRequested, GoneReason);
        }
    }

    /// <summary>The reason given for a step that finds the job's container gone.</summary>
    public const string GoneReason = "the job's container is gone";

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    private async Task<StepResult> RunExecAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken)
    {
        var name = $"{executionStep.Index.ToString(CultureInfo.InvariantCulture)}{executionStep.ScriptExtension}";
        await File.WriteAllTextAsync(Path.Combine(root, "steps", name), executionStep.Script, CancellationToken.None);
        var command = Command(executionStep, $"{StepsPath}/{name}");
        var exec = await executor.Client.Exec.CreateContainerExecAsync(containerId, new ContainerExecCreateParameters
        {
            AttachStdout = true,
            AttachStderr = true,
            Cmd = command,
            Env = Environment(executionStep),
            WorkingDir = executionStep.WorkingDirectory ?? WorkspacePath,
        }, cancellationToken);

        var (oomKills, pidsHits) = (_cgroup.OomKills(), _cgroup.PidsLimitHits());
        var cancelled = false;
        var killing = Task.CompletedTask;
        using var stream = await executor.Client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters(), cancellationToken);
        await using (cancellationToken.Register(() =>
                     {
                         cancelled = true;
                         // The exec's processes die with the container; the attempt cannot go on after a cancel anyway.
                         killing = executor.RemoveContainerAsync(containerId);
                     }))
        {
            await PumpAsync(stream, output);
        }
        await killing;
        if (cancelled) return new StepResult(137, Cancelled: true);

        var inspected = await executor.Client.Exec.InspectContainerExecAsync(exec.ID, CancellationToken.None);
        var exitCode = (int)(inspected.ExitCode ?? -1);
        if (exitCode == 137 && (_cgroup.OomKills() > oomKills || await FlaggedOomKilledAsync()))
        {
            output.Line($"The step was stopped: {OomReason}; the container's memory limit is too low for it.", OutputChannel.Stderr);
            return new StepResult(exitCode, Cancelled: false, OomReason);
        }
        if (exitCode != 0 && _cgroup.PidsLimitHits() > pidsHits)
        {
            output.Line($"The step failed: {PidsReason}; the container's pids limit is too low for it.", OutputChannel.Stderr);
            return new StepResult(exitCode, Cancelled: false, PidsReason);
        }
        return new StepResult(exitCode, Cancelled: false);
    }

    /// <summary>The shell that runs GitHub's default shell in an image: bash when the image has it, else <c>sh -e</c>
    /// (GitHub's rule for container jobs), decided inside the same exec (no extra round trip to probe the image).</summary>
    private const string DefaultShellInImage =
        "if command -v bash >/dev/null 2>&1; then exec bash --noprofile --norc -eo pipefail \"$1\"; fi; exec sh -e \"$1\"";

    private static List<string> Command(ExecutionStep step, string script) =>
        step.Shell == ExecutionStep.DefaultShell ? ["sh", "-c", DefaultShellInImage, "sh", script] : ShellExecution.ShellCommand(step.Shell, script);

    private List<string> Environment(ExecutionStep step)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOME"] = "/root",
            ["LANG"] = "C.UTF-8",
        };
        foreach (var (k, v) in request.Env) env[k] = v;
        foreach (var (k, v) in step.Env) env[k] = v;
        // The host's PATH means nothing in the image: keep the image's, with the step's additions in front.
        var path = request.Container?.Env.GetValueOrDefault("PATH") ?? DefaultPath;
        env["PATH"] = step.PrependPath is { Count: > 0 } prepend ? string.Join(':', [.. prepend, path]) : path;
        env["TMPDIR"] = env["RUNNER_TEMP"] = TempPath;
        env["GITHUB_WORKSPACE"] = env["BUILDSERVER_WORKSPACE"] = WorkspacePath;
        env[ShellExecutor.AttemptMarker] = request.AttemptId.ToString(CultureInfo.InvariantCulture);
        return [.. env.Select(kv => $"{kv.Key}={kv.Value}")];
    }

    private async Task<bool> FlaggedOomKilledAsync() =>
        (await executor.Client.Containers.InspectContainerAsync(containerId, CancellationToken.None)).State?.OOMKilled == true;

    private static async Task PumpAsync(MultiplexedStream stream, IOutputSink output)
    {
        var stdout = new OutputLines(output, OutputChannel.Stdout);
        var stderr = new OutputLines(output, OutputChannel.Stderr);
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, CancellationToken.None);
                if (read.EOF) break;
                (read.Target == MultiplexedStream.TargetStream.StandardError ? stderr : stdout).Add(buffer.AsSpan(0, read.Count));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or HttpRequestException)
        {
            // the container was removed under the stream (a cancel)
        }
        stdout.Flush();
        stderr.Flush();
    }

    public async ValueTask DisposeAsync()
    {
        // The services first: they live in the job container's network namespace.
        foreach (var id in serviceIds.Append(containerId))
        {
            try
            {
                await executor.RemoveContainerAsync(id);
            }
            catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
            {
                executor.Logger.LogWarning(e, "Could not remove container {Container}; the agent's sweep or next start removes it", id);
            }
        }
        executor.Forget(request.AttemptId, root);
        executor.ForgetAdopted(containerId);
    }
}
