using BuildServer.Modules.Executors.Docker;

namespace BuildServer.Modules.Executors;

/// <summary>The agent's executor: a job with <c>container:</c> goes to Docker (when configured), any other to the
/// shell executor. Leftovers of both are removed at start.</summary>
internal sealed class RoutingExecutor(ShellExecutor shell, DockerExecutor? docker = null) : IExecutor
{
    public string Name => docker is null ? shell.Name : $"{shell.Name}+{docker.Name}";

    public bool RunsContainers => docker is not null;

    public async Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        await shell.RemoveLeftoversAsync(cancellationToken);
        if (docker is not null) await docker.RemoveLeftoversAsync(cancellationToken);
    }

    public Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken) =>
        docker?.SweepAsync(runningAttempts, cancellationToken) ?? Task.CompletedTask;

    public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Container is null) return shell.PrepareAsync(request, cancellationToken);
        return docker?.PrepareAsync(request, cancellationToken)
               ?? throw new ExecutorException($"the job runs in the container '{request.Container.Image}', and this agent has no Docker executor (configure Executors:Docker)");
    }
}
