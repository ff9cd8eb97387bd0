using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Pipelines.Planning;

/// <summary>
/// One job of a run as the plan fixed it: a workflow job, matrix-expanded (one spec per matrix combination),
/// with job-level values evaluated (name, runs-on, timeout, continue-on-error) and everything the runner
/// evaluates later kept as templates (env, steps, outputs). Stored as JSON with the job and sent to agents;
/// it carries no secrets.
/// </summary>
/// <param name="JobId">The workflow's job id (the key under <c>jobs:</c>); matrix siblings share it.</param>
/// <param name="Name">The display name, unique in the run: <c>name:</c> evaluated, or the id, plus
/// <c>(v1, v2)</c> with the matrix values for matrix jobs.</param>
/// <param name="Matrix">This combination's values (the <c>matrix</c> context); null when the job has no matrix.</param>
/// <param name="Strategy">The <c>strategy</c> context: fail-fast, job-index, job-total, max-parallel.</param>
/// <param name="Needs">Workflow job ids this job needs (all matrix instances of each).</param>
/// <param name="If">The job's condition as written; null means <c>success()</c>. Evaluated when its needs have finished.</param>
/// <param name="Defaults">workflow <c>defaults.run</c> overlaid by the job's.</param>
public sealed record JobSpec(
    string WorkflowName,
    string JobId,
    string Name,
    JsonObject? Matrix,
    JsonObject Strategy,
    IReadOnlyList<string> Needs,
    Template? If,
    IReadOnlyList<string> RunsOn,
    Priority Priority,
    double TimeoutMinutes,
    bool ContinueOnError,
    RetryPolicy? Retry,
    string? Environment,
    IReadOnlyDictionary<string, Template> WorkflowEnv,
    IReadOnlyDictionary<string, Template> Env,
    RunDefaults? Defaults,
    ContainerSpec? Container,
    IReadOnlyDictionary<string, ContainerSpec> Services,
    IReadOnlyDictionary<string, Template> Outputs,
    IReadOnlyList<WorkflowStep> Steps);

/// <summary>What a job's expressions see besides its own spec, fixed when it is admitted.</summary>
/// <param name="Github">The <c>github</c> (alias <c>ci</c>) context: event_name, ref, sha, repository,
/// run_id, run_number, run_attempt, actor, workflow, job, event...</param>
/// <param name="Needs">The <c>needs</c> context: <c>{ job: { result, outputs } }</c> for the jobs it needs.</param>
/// <param name="Secrets">Secrets for this attempt only; never stored with the spec.</param>
public sealed record JobContext(
    JsonObject Github,
    JsonObject Inputs,
    JsonObject Vars,
    JsonObject Needs,
    IReadOnlyDictionary<string, string> Secrets);
