using System.Runtime.InteropServices;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Planning;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Runtime;

/// <summary>The GitHub Actions step runtime (see <see cref="IJobRunner"/>). A singleton: each call gets its own
/// <see cref="JobRun"/>, so jobs on several agent slots run at once.</summary>
internal sealed class JobRunner(
    IEnumerable<IStepKindHandler> handlers,
    IOptions<JobRunnerOptions> options,
    TimeProvider time,
    ILogger<JobRunner> logger) : IJobRunner
{
    private readonly Dictionary<string, IStepKindHandler> _handlers =
        handlers.GroupBy(h => h.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    public Task<JobOutcome> RunAsync(JobSpec spec, JobContext context, IExecution execution, IJobReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(execution);
        ArgumentNullException.ThrowIfNull(reporter);
        var settings = options.Value;
        var debug = IsTrue(context.Secrets.GetValueOrDefault("ACTIONS_STEP_DEBUG")) || IsTrue(context.Secrets.GetValueOrDefault("ACTIONS_RUNNER_DEBUG")) ||
                    IsTrue(DefaultEnvironment.Text(context.Vars["ACTIONS_STEP_DEBUG"])) || IsTrue(DefaultEnvironment.Text(context.Vars["ACTIONS_RUNNER_DEBUG"]));
        var runner = new RunnerInfo(
            settings.RunnerName ?? Environment.MachineName,
            "Linux",
            Arch(RuntimeInformation.OSArchitecture),
            execution.TempFolder,
            settings.ToolCache ?? $"{execution.TempFolder}/_tool",
            debug);
        var run = new JobRun(spec, context, execution, reporter, _handlers, settings, runner, time, logger);
        return run.RunAsync(cancellationToken);
    }

    private static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>GitHub's names: X86, X64, ARM, ARM64.</summary>
    private static string Arch(Architecture architecture) => architecture switch
    {
        Architecture.X86 => "X86",
        Architecture.Arm => "ARM",
        Architecture.Arm64 => "ARM64",
        _ => "X64",
    };
}
