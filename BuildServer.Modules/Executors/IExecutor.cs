using System.Collections.ObjectModel;

namespace BuildServer.Modules.Executors;

/// <summary>
/// Runs the steps of one job attempt somewhere (host processes, a container, a VM).
/// <para>Lifecycle: <see cref="RemoveLeftoversAsync"/> once when an agent starts (clean up what a crashed
/// agent left), then per attempt <see cref="PrepareAsync"/> → <see cref="IExecution.RunStepAsync"/> for each
/// step, in order → <see cref="IAsyncDisposable.DisposeAsync"/> (cleanup: always called, also after a
/// failure or a cancel). Cancel at any point through the step's token: the step gets a graceful signal,
/// then is killed after the grace period. While the agent runs, <see cref="SweepAsync"/> is called now and then to
/// remove what attempts the agent no longer runs left behind (a removal that failed at dispose).</para>
/// <para>Thread-safety: an executor is a singleton used by all agent slots at once; an
/// <see cref="IExecution"/> belongs to one slot and is not used concurrently.</para>
/// </summary>
public interface IExecutor
{
    string Name { get; }

    /// <summary>Whether jobs with <c>container:</c> can run here (a Docker executor is configured).</summary>
    bool RunsContainers => false;

    /// <summary>Whether jobs can run in a microVM here (a microVM executor is configured).</summary>
    bool RunsMicroVms => false;

    Task RemoveLeftoversAsync(CancellationToken cancellationToken);

    Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken);

    /// <summary>Removes what this agent's executor created for attempts that are not in
    /// <paramref name="runningAttempts"/> (the agent's attempts from before their prepare until after their
    /// dispose). May run while slots prepare new attempts: an implementation must leave alone what an attempt
    /// being prepared right now creates. The default has nothing to sweep.</summary>
    Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken) => Task.CompletedTask;
}

public interface IExecution : IAsyncDisposable
{
    /// <summary>The job's working directory, as the steps see it.</summary>
    string Workspace { get; }

    /// <summary>The job's folder for temporary files (<c>RUNNER_TEMP</c>), as the steps see it. It exists from
    /// <see cref="IExecutor.PrepareAsync"/> on and is removed with the execution.</summary>
    string TempFolder { get; }

    /// <summary>Where a path as the steps see it (under <see cref="Workspace"/> or <see cref="TempFolder"/>) is
    /// on the agent's host, so the runtime can write and read files the steps use (<c>GITHUB_ENV</c>...). The
    /// identity for the shell executor; a container or VM executor maps its mounts.</summary>
    string ToHostPath(string stepPath);

    /// <summary>Whether a folder exists as the steps see it (a step's <c>working-directory</c>). On the host for the
    /// shell and container executors (mounted folders); a VM executor asks the guest, where the workspace lives
    /// while the job runs.</summary>
    ValueTask<bool> DirectoryExistsAsync(string stepPath, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Directory.Exists(ToHostPath(stepPath)));

    /// <summary>Runs one step to its end, streaming every output line to <paramref name="output"/> as it comes.
    /// Cancelling <paramref name="cancellationToken"/> stops the step (and what it started); the result then
    /// says <see cref="StepResult.Cancelled"/>. Never throws for a failing step.</summary>
    Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken);
}

/// <param name="AttemptId">Used to label what the executor creates, so leftovers can be found.</param>
/// <param name="Env">The job's environment (defaults and the pipeline's env), without step env.</param>
public sealed record ExecutionRequest(long AttemptId, IReadOnlyDictionary<string, string> Env)
{
    /// <summary>An existing folder to run the steps in (<c>buildserver run</c> uses the current directory);
    /// null for a fresh per-attempt workspace that is removed afterwards.</summary>
    public string? Workspace { get; init; }

    /// <summary>The job's <c>container:</c>; null runs the steps on the host (the shell executor).</summary>
    public ExecutionContainer? Container { get; init; }

    /// <summary>Run the steps in a microVM (the job's <c>runs-on</c> names the label <c>microvm</c>).</summary>
    public bool MicroVm { get; init; }

    /// <summary>The job's <c>services:</c> by name, started beside <see cref="Container"/> and sharing its network
    /// (a service is reached at 127.0.0.1 on its port); empty when the job has none.</summary>
    public IReadOnlyDictionary<string, ExecutionContainer> Services { get; init; } = ReadOnlyDictionary<string, ExecutionContainer>.Empty;
}

/// <summary>The container a job runs in, or one of its service containers.</summary>
/// <param name="Image">An image the engine has or can pull (<c>local/busybox:1</c>, <c>debian:bookworm</c>).</param>
/// <param name="Env">The container's own <c>env:</c>.</param>
/// <param name="Options">The job's <c>container.options</c> (<c>--memory 1g --cpus 2</c>); unsupported flags fail the job.</param>
public sealed record ExecutionContainer(string Image, IReadOnlyDictionary<string, string> Env, string? Options)
{
    /// <summary>The <c>ports:</c> as written (<c>6379</c>, <c>8080:8080</c>); an executor that cannot publish them
    /// decides which it accepts.</summary>
    public IReadOnlyList<string> Ports { get; init; } = [];
}

/// <summary>One step's script and how to run it.</summary>
/// <param name="Env">The step's environment over the executor's clean one (the runtime passes it complete).</param>
/// <param name="Shell">The command that runs the script: a program and its arguments separated by spaces, with
/// <c>{0}</c> where the script file's path goes (GitHub's <c>shell:</c> template).</param>
/// <param name="ScriptExtension">The script file's extension (<c>.sh</c>, <c>.py</c>...), for shells that care.</param>
/// <param name="WorkingDirectory">Where the step starts, as the steps see it; null for <see cref="IExecution.Workspace"/>.</param>
/// <param name="PrependPath">Folders put in front of the step's <c>PATH</c> (the first wins), as the steps see them.</param>
public sealed record ExecutionStep(
    int Index,
    string Name,
    string Script,
    IReadOnlyDictionary<string, string> Env,
    string Shell = ExecutionStep.DefaultShell,
    string ScriptExtension = ".sh",
    string? WorkingDirectory = null,
    IReadOnlyList<string>? PrependPath = null)
{
    /// <summary>GitHub's default shell on Linux.</summary>
    public const string DefaultShell = "bash --noprofile --norc -eo pipefail {0}";
}

/// <param name="FailureReason">Why the step failed when the executor knows better than its exit code
/// (<c>out of memory (OOM-killed)</c>); null otherwise.</param>
public sealed record StepResult(int ExitCode, bool Cancelled, string? FailureReason = null);

public enum OutputChannel
{
    Stdout,
    Stderr,
}

/// <summary>Receives a step's output line by line. Called from several threads (stdout and stderr), so thread-safe.</summary>
public interface IOutputSink
{
    void Line(ReadOnlySpan<char> text, OutputChannel stream);
}
