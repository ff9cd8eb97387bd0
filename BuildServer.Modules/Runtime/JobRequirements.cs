using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Runtime;

/// <summary>What a job asks of its executor that this agent cannot give; checked before a job starts so that it
/// fails with a reason instead of silently running on the host.</summary>
public static class JobRequirements
{
    /// <summary>Null when <paramref name="executor"/> can run the job, else the reason it cannot.</summary>
    public static string? CannotRun(JobSpec spec, IExecutor executor)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(executor);
        if (spec.Container is { } container && !executor.RunsContainers)
        {
            return $"job '{spec.Name}' runs in the container '{container.Image.Text}', and this agent has no Docker executor (configure Executors:Docker)";
        }
        if (InMicroVm(spec))
        {
            if (spec.Container is { } boxed)
            {
                return $"job '{spec.Name}' asks for both a microVM (runs-on: microvm) and the container '{boxed.Image.Text}'; a job runs in one or the other";
            }
            if (!executor.RunsMicroVms)
            {
                return $"job '{spec.Name}' runs in a microVM (runs-on: microvm), and this agent has no microVM executor (configure Executors:MicroVm)";
            }
        }
        if (spec.Services.Count > 0 && spec.Container is null)
        {
            // On GitHub such services publish their ports on the host; without a bridge network that cannot be done.
            return $"job '{spec.Name}' has service containers ({string.Join(", ", spec.Services.Keys)}) but no 'container:': services " +
                   "run beside a job container and share its network (127.0.0.1:<port>); add a 'container:' to the job";
        }
        foreach (var (name, service) in spec.Services)
        {
            if (service.Volumes.Count > 0) return $"service '{name}' of job '{spec.Name}' has 'volumes:', which are not supported";
        }
        return null;
    }

    /// <summary>Whether the job asks for a microVM: its <c>runs-on</c> names the label <c>microvm</c>.</summary>
    public static bool InMicroVm(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.RunsOn.Contains(MicroVmLabel, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The label of agents that run jobs in microVMs, and that jobs name to be run in one.</summary>
    public const string MicroVmLabel = "microvm";

    /// <summary>The job's <c>container:</c> as the executor takes it; null for a job on the host.</summary>
    /// <remarks>Image, env and options are taken as written: expressions in them are not evaluated yet.</remarks>
    public static ExecutionContainer? ContainerOf(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Container is { } container ? Of(container) : null;
    }

    /// <summary>The job's <c>services:</c> as the executor takes them, by name (values taken as written, as above).</summary>
    public static IReadOnlyDictionary<string, ExecutionContainer> ServicesOf(JobSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Services.ToDictionary(kv => kv.Key, kv => Of(kv.Value), StringComparer.Ordinal);
    }

    private static ExecutionContainer Of(ContainerSpec container) =>
        new(container.Image.Text, container.Env.ToDictionary(kv => kv.Key, kv => kv.Value.Text), container.Options?.Text)
        {
            Ports = [.. container.Ports.Select(p => p.Text)],
        };
}
