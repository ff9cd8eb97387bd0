using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// Runs the <c>uses:</c> steps of one kind (<see cref="WorkflowStep.Kind"/>: checkout, cache, a plugin's...).
/// Handlers are singletons shared by all jobs, so they keep no per-job state; everything a run needs comes in
/// the <see cref="StepKindInvocation"/>. A handler reports failure through its result; an exception also fails
/// the step (with its message), and cancellation is the runtime's to report.
/// </summary>
public interface IStepKindHandler
{
    /// <summary>The <see cref="WorkflowStep.Kind"/> this handler runs.</summary>
    string Kind { get; }

    Task<StepKindResult> RunAsync(StepKindInvocation invocation, CancellationToken cancellationToken);
}

/// <param name="With">The step's <c>with:</c> inputs, evaluated.</param>
/// <param name="Env">The step's complete environment (defaults, workflow, job, GITHUB_ENV, step env).</param>
/// <param name="Output">Where to write log lines: masked and workflow commands processed, as for a run step.</param>
public sealed record StepKindInvocation(
    WorkflowStep Step,
    string Name,
    IReadOnlyDictionary<string, string> With,
    IReadOnlyDictionary<string, string> Env,
    IExecution Execution,
    IOutputSink Output);

/// <param name="Outputs">The step's outputs (<c>steps.id.outputs</c>).</param>
/// <param name="Reason">Why it failed, one line a person can act on.</param>
public sealed record StepKindResult(bool Succeeded, string? Reason, IReadOnlyDictionary<string, string> Outputs)
{
    public static StepKindResult Success(IReadOnlyDictionary<string, string>? outputs = null) =>
        new(true, null, outputs ?? new Dictionary<string, string>());

    public static StepKindResult Failure(string reason) => new(false, reason, new Dictionary<string, string>());
}
