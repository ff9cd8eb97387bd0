using System.Globalization;
using Docker.DotNet.Models;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>One of a job's <c>services:</c> as the engine gets it: limits and a health check from its
/// <c>options</c>, its <c>ports:</c> checked. Parsed before anything is created, so a bad option fails the job
/// with nothing to clean up.</summary>
internal sealed record ServiceSettings(string Name, ExecutionContainer Container, ContainerLimits Limits, HealthcheckConfig? Health)
{
    /// <summary>The limits a job container has, and the health flags GitHub users write for services. No
    /// <c>--network</c>: a service always shares the job container's network.</summary>
    public static readonly IReadOnlyList<string> SupportedFlags =
    [
        "--memory", "-m", "--cpus", "--pids-limit",
        "--health-cmd", "--health-interval", "--health-timeout", "--health-retries", "--health-start-period",
    ];

    /// <exception cref="ExecutorException">an unsupported flag or value, a port that would need publishing.</exception>
    public static ServiceSettings From(string name, ExecutionContainer container, DockerExecutorOptions agent)
    {
        ArgumentNullException.ThrowIfNull(container);
        var what = $"service '{name}' option";
        var flags = ContainerOptions.Parse(container.Options, SupportedFlags, what);
        var limits = ContainerLimits.From(flags, agent, what, $"service '{name}'");
        foreach (var port in container.Ports) CheckPort(name, port);
        return new ServiceSettings(name, container, limits, HealthCheck(flags, what));
    }

    /// <summary>Without a bridge network nothing can be published: a service is reached on its own port through the
    /// job container's network, so only a mapping to the same number (or a bare container port) means anything.</summary>
    private static void CheckPort(string name, string port)
    {
        var parts = port.Split('/')[0].Split(':');
        var inside = parts[^1];
        if (parts.Length == 1 || parts[^2] == inside || parts[^2].Length == 0) return;
        throw new ExecutorException(
            $"service '{name}' port '{port}': ports cannot be published on this agent (no bridge network); the job reaches " +
            $"the service at 127.0.0.1:{inside}, so write '{inside}' or '{inside}:{inside}'");
    }

    /// <summary>The health flags over the image's own check (a flag not given keeps the image's value); null when
    /// no flag is given.</summary>
    private static HealthcheckConfig? HealthCheck(IReadOnlyList<(string Flag, string Value)> flags, string what)
    {
        var health = flags.Where(f => f.Flag.StartsWith("--health-", StringComparison.Ordinal)).ToList();
        if (health.Count == 0) return null;
        var config = new HealthcheckConfig();
        foreach (var (flag, value) in health)
        {
            switch (flag)
            {
                case "--health-cmd":
                    config.Test = ["CMD-SHELL", value];
                    break;
                case "--health-retries":
                    config.Retries = long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r) && r > 0
                        ? r
                        : throw new ExecutorException($"{what} '--health-retries {value}': not a positive number");
                    break;
                case "--health-interval":
                    config.Interval = Duration(flag, value, what);
                    break;
                case "--health-timeout":
                    config.Timeout = Duration(flag, value, what);
                    break;
                default:
                    config.StartPeriod = Duration(flag, value, what);
                    break;
            }
        }
        return config;
    }

    /// <summary>Docker's (Go's) duration syntax: numbers with units h, m, s, ms, us, ns (<c>10s</c>, <c>1m30s</c>).</summary>
    internal static TimeSpan Duration(string flag, string value, string what)
    {
        var total = TimeSpan.Zero;
        var rest = value.AsSpan().Trim();
        while (!rest.IsEmpty)
        {
            var digits = 0;
            while (digits < rest.Length && (char.IsAsciiDigit(rest[digits]) || rest[digits] == '.')) digits++;
            var letters = digits;
            while (letters < rest.Length && char.IsAsciiLetter(rest[letters])) letters++;
            var seconds = rest[digits..letters].ToString() switch
            {
                "h" => 3600,
                "m" => 60,
                "s" => 1,
                "ms" => 1e-3,
                "us" => 1e-6,
                "ns" => 1e-9,
                _ => 0d,
            };
            if (digits == 0 || seconds == 0 || !double.TryParse(rest[..digits], NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                throw new ExecutorException($"{what} '{flag} {value}': not a duration (like 10s, 1m30s, 500ms)");
            }
            total += TimeSpan.FromSeconds(n * seconds);
            rest = rest[letters..];
        }
        return total > TimeSpan.Zero ? total : throw new ExecutorException($"{what} '{flag} {value}': not a positive duration");
    }
}
