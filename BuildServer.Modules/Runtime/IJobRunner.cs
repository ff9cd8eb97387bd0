using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runtime;

/// <summary>How a step or a job ended, in GitHub's words (a step's <c>outcome</c>/<c>conclusion</c>, a need's <c>result</c>).</summary>
public enum Conclusion
{
    Success,
    Failure,
    Cancelled,
    Skipped,
    TimedOut,
}

/// <param name="Outcome">How the step itself ended (<c>steps.id.outcome</c>).</param>
/// <param name="Conclusion">After <c>continue-on-error</c> (<c>steps.id.conclusion</c>).</param>
/// <param name="Reason">One line a person can act on, for anything but success.</param>
public sealed record StepOutcome(int Index, string Name, Conclusion Outcome, Conclusion Conclusion, int? ExitCode, string? Reason);

public enum AnnotationLevel
{
    Notice,
    Warning,
    Error,
}

/// <summary>An <c>::error::</c>, <c>::warning::</c> or <c>::notice::</c> a step wrote, or a warning of the runtime's
/// own (a deprecated command, a job output left out). <see cref="StepIndex"/> is -1 for the job itself.</summary>
public sealed record Annotation(AnnotationLevel Level, string Message, int StepIndex, string? File, int? Line, int? Column, string? Title);

/// <param name="Conclusion">The job's result (<c>needs.job.result</c>): failure if a step failed without
/// continue-on-error; timed out / cancelled when stopped so; a job-level continue-on-error is the caller's to apply.</param>
/// <param name="Outputs">The job's <c>outputs:</c>, evaluated after its steps (masked values are left out).</param>
/// <param name="Summary">What the steps appended to <c>GITHUB_STEP_SUMMARY</c> (Markdown), null when nothing.</param>
public sealed record JobOutcome(
    Conclusion Conclusion,
    string? Reason,
    int? ExitCode,
    IReadOnlyDictionary<string, string> Outputs,
    IReadOnlyList<StepOutcome> Steps,
    IReadOnlyList<Annotation> Annotations,
    string? Summary);

/// <summary>Where a running job reports to: the attempt's log and lifecycle on an agent, the console for
/// <c>buildserver run</c>. Called from one job at a time, in order; <see cref="Output"/> may be called from
/// several threads (a step's stdout and stderr).</summary>
public interface IJobReporter
{
    /// <summary>Before a step runs (not called for a step that is skipped).</summary>
    Task StepStartingAsync(int index, string name, CancellationToken cancellationToken);

    /// <summary>After a step ended, or instead of running it when it is skipped.</summary>
    Task StepFinishedAsync(StepOutcome outcome, CancellationToken cancellationToken);

    /// <summary>Output, one line at a time, already masked (secrets and <c>::add-mask::</c> values are ***).
    /// Workflow command lines arrive as written (masked), so a viewer can fold <c>::group::</c>.</summary>
    IOutputSink Output { get; }
}

/// <summary>
/// Runs one job's steps on an execution per the GitHub Actions step contract: step <c>if</c> with the status
/// functions, <c>${{ }}</c> in env, run, name, with and working-directory; the shell of the step/defaults;
/// <c>GITHUB_ENV</c>, <c>GITHUB_OUTPUT</c>, <c>GITHUB_PATH</c>, <c>GITHUB_STEP_SUMMARY</c>; the default
/// environment (<c>CI</c>, <c>GITHUB_*</c>, <c>BUILDSERVER_*</c>); workflow commands (<c>::add-mask::</c>,
/// <c>::error::</c>, <c>::warning::</c>, <c>::notice::</c>, <c>::group::</c>); step <c>continue-on-error</c>
/// and <c>timeout-minutes</c>; the job's timeout. Cancelling the token cancels the job (the running step is
/// stopped; steps with <c>if: always()</c> or <c>cancelled()</c> still run).
/// </summary>
public interface IJobRunner
{
    Task<JobOutcome> RunAsync(JobSpec spec, JobContext context, IExecution execution, IJobReporter reporter, CancellationToken cancellationToken);
}
