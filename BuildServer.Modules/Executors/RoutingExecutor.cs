using BuildServer.Modules.Executors.Docker;
using BuildServer.Modules.Executors.MicroVm;

namespace BuildServer.Modules.Executors;

/// <summary>The agent's executor: a job with <c>container:</c> goes to Docker (when configured); a job asking for a
/// microVM (<c>runs-on: microvm</c>, or any job without a container when <c>Executors:MicroVm:AllJobs</c> is set) to the
/// microVM executor; any other to the shell executor. Leftovers of all are removed at start.</summary>
internal sealed class RoutingExecutor(ShellExecutor shell, DockerExecutor? docker = null, MicroVmExecutor? microVm = null) : IExecutor
{
    public string Name => string.Join('+', new[] { shell.Name, docker?.Name, microVm?.Name }.OfType<string>());

    public bool RunsContainers => docker is not null;

    public bool RunsMicroVms => microVm is not null;

    public async Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        await shell.RemoveLeftoversAsync(cancellationToken);
        if (docker is not null) await docker.RemoveLeftoversAsync(cancellationToken);
        if (microVm is not null) await microVm.RemoveLeftoversAsync(cancellationToken);
    }

    public async Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken)
    {
        if (docker is not null) await docker.SweepAsync(runningAttempts, cancellationToken);
        if (microVm is not null) await microVm.SweepAsync(runningAttempts, cancellationToken);
    }

    public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Container is not null)
        {
            if (request.MicroVm) throw new ExecutorException("the job asks for both a microVM and a container; a job runs in one or the other");
            return docker?.PrepareAsync(request, cancellationToken)
                   ?? throw new ExecutorException($"the job runs in the container '{request.Container.Image}', and this agent has no Docker executor (configure Executors:Docker)");
        }
        if (request.MicroVm || microVm?.Options.AllJobs == true)
        {
            return microVm?.PrepareAsync(request, cancellationToken)
                   ?? throw new ExecutorException("the job runs in a microVM (runs-on: microvm), and this agent has no microVM executor (configure Executors:MicroVm)");
        }
        return shell.PrepareAsync(request, cancellationToken);
    }
}
