using System.Globalization;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>What a job's container gets: limits and network, from the agent's defaults and the job's
/// <c>container.options</c>, checked against what the agent allows.</summary>
internal sealed record ContainerLimits(long? Memory, double? Cpus, long? Pids, bool HostNetwork)
{
    /// <summary>The flags of <c>container.options</c> we understand; any other fails the job, naming it (silently
    /// ignoring <c>--privileged</c> or <c>-v /:/host</c> would be worse than refusing it).</summary>
    public static readonly IReadOnlyList<string> SupportedFlags = ["--memory", "-m", "--cpus", "--pids-limit", "--network"];

    /// <exception cref="ExecutorException">an unsupported flag, a bad value or a limit above the agent's.</exception>
    public static ContainerLimits From(string? options, DockerExecutorOptions agent) =>
        From(ContainerOptions.Parse(options, SupportedFlags, "container option"), agent, "container option", "the job");

    /// <summary>The limits among <paramref name="flags"/> (others are the caller's), over the agent's defaults.</summary>
    /// <param name="what">How the messages name an option (<c>container option</c>).</param>
    /// <param name="who">Who asks, for messages (<c>the job</c>, <c>service 'db'</c>).</param>
    public static ContainerLimits From(IEnumerable<(string Flag, string Value)> flags, DockerExecutorOptions agent, string what, string who)
    {
        ArgumentNullException.ThrowIfNull(flags);
        ArgumentNullException.ThrowIfNull(agent);
        var memory = agent.Memory is { } m ? ParseBytes(m, "Executors:Docker:Memory") : (long?)null;
        var cpus = agent.Cpus;
        var pids = agent.Pids;
        var host = false;
        foreach (var (flag, value) in flags)
        {
            switch (flag)
            {
                case "--memory" or "-m":
                    memory = ParseBytes(value, flag);
                    break;
                case "--cpus":
                    cpus = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && c > 0
                        ? c
                        : throw new ExecutorException($"{what} '--cpus {value}': not a positive number");
                    break;
                case "--pids-limit":
                    pids = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) && p > 0
                        ? p
                        : throw new ExecutorException($"{what} '--pids-limit {value}': not a positive number");
                    break;
                case "--network":
                    host = value switch
                    {
                        "none" => false,
                        "host" when agent.AllowHostNetwork => true,
                        "host" => throw new ExecutorException($"{what} '--network host': this agent does not allow the host's network (Executors:Docker:AllowHostNetwork)"),
                        _ => throw new ExecutorException($"{what} '--network {value}': only 'none' and 'host' are supported"),
                    };
                    break;
            }
        }
        if (agent.MaxMemory is { } maxText && memory is { } asked && asked > ParseBytes(maxText, "Executors:Docker:MaxMemory"))
        {
            throw new ExecutorException($"{who} asks for {asked} bytes of memory, above this agent's limit Executors:Docker:MaxMemory = {maxText}");
        }
        if (agent.MaxCpus is { } maxCpus && cpus > maxCpus)
        {
            throw new ExecutorException($"{who} asks for {cpus.Value.ToString(CultureInfo.InvariantCulture)} CPUs, above this agent's limit Executors:Docker:MaxCpus = {maxCpus.ToString(CultureInfo.InvariantCulture)}");
        }
        if (agent.MaxPids is { } maxPids && pids > maxPids)
        {
            throw new ExecutorException($"{who} asks for a pids limit of {pids}, above this agent's limit Executors:Docker:MaxPids = {maxPids}");
        }
        return new ContainerLimits(memory, cpus, pids, host);
    }

    /// <summary>Docker's size syntax: a number with an optional unit b, k, m or g (powers of 1024).</summary>
    internal static long ParseBytes(string text, string what)
    {
        var trimmed = text.Trim().ToLowerInvariant();
        var unit = trimmed.Length > 0 && char.IsAsciiLetter(trimmed[^1]) ? trimmed[^1] : 'b';
        var number = char.IsAsciiLetter(unit) && trimmed.Length > 0 && char.IsAsciiLetter(trimmed[^1]) ? trimmed[..^1] : trimmed;
        long factor = unit switch { 'b' => 1, 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, _ => 0 };
        if (factor == 0 || !long.TryParse(number, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            throw new ExecutorException($"'{what} {text}': not a size (a number with b, k, m or g)");
        }
        return n * factor;
    }
}
