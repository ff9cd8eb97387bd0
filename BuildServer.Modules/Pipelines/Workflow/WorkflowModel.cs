using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace BuildServer.Modules.Pipelines.Workflow;

// The parsed form of a GitHub-Actions-compatible workflow file (plus BuildServer's extensions), as written:
// values that may hold ${{ }} stay text (Template) and are evaluated where GitHub evaluates them (the plan,
// the server at admission, or the runner at the step). Every record is plain data and round-trips through
// System.Text.Json, because a job's part of it travels to agents inside its JobSpec.

/// <summary>A 1-based position in the workflow file.</summary>
public readonly record struct SourcePos(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>A scalar as written; may contain <c>${{ }}</c> (already checked to parse). <see cref="Pos"/> is
/// where its text starts, so an evaluation error can point into the file.</summary>
public sealed record Template(string Text, SourcePos Pos)
{
    [JsonIgnore]
    public bool HasExpressions => Text.Contains("${{", StringComparison.Ordinal);

    public override string ToString() => Text;
}

public enum Priority
{
    Critical,
    High,
    Normal,
    Low,
}

public sealed record Workflow(
    string? Name,
    Template? RunName,
    WorkflowTriggers On,
    IReadOnlyDictionary<string, Template> Env,
    RunDefaults? Defaults,
    ConcurrencySpec? Concurrency,
    JsonNode? Permissions,
    Priority? Priority,
    IReadOnlyList<WorkflowJob> Jobs);

/// <summary>The <c>on:</c> key. Parsed and validated now; acted on by the triggers module later.</summary>
/// <param name="Other">Other events named (release, merge_group, ...) with their raw configuration.</param>
public sealed record WorkflowTriggers(
    RefTrigger? Push,
    RefTrigger? PullRequest,
    RefTrigger? PullRequestTarget,
    IReadOnlyList<ScheduleTrigger> Schedule,
    DispatchTrigger? WorkflowDispatch,
    CallTrigger? WorkflowCall,
    IReadOnlyDictionary<string, JsonNode?> Other);

/// <summary>Filters of push / pull_request (each list as written; glob patterns).</summary>
public sealed record RefTrigger(
    IReadOnlyList<string> Branches,
    IReadOnlyList<string> BranchesIgnore,
    IReadOnlyList<string> Tags,
    IReadOnlyList<string> TagsIgnore,
    IReadOnlyList<string> Paths,
    IReadOnlyList<string> PathsIgnore,
    IReadOnlyList<string> Types);

public sealed record ScheduleTrigger(string Cron, SourcePos Pos);

#pragma warning disable CA1720 // the names are GitHub's input types
public enum InputType
{
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}
#pragma warning restore CA1720

/// <param name="Default">The default as text (booleans "true"/"false", numbers invariant), null when none.</param>
public sealed record InputSpec(string Name, InputType Type, string? Description, bool Required, string? Default, IReadOnlyList<string> Options);

public sealed record DispatchTrigger(IReadOnlyDictionary<string, InputSpec> Inputs);

public sealed record CallTrigger(IReadOnlyDictionary<string, InputSpec> Inputs, IReadOnlyDictionary<string, Template> Outputs, IReadOnlyList<string> Secrets);

/// <summary><c>defaults.run</c>.</summary>
public sealed record RunDefaults(Template? Shell, Template? WorkingDirectory);

public sealed record ConcurrencySpec(Template Group, Template? CancelInProgress);

/// <param name="Deployment"><c>deployment:</c> "true"/"false" or an expression; "false" uses the environment's
/// protection rules and secrets without creating a deployment. Null means true.</param>
public sealed record EnvironmentSpec(Template Name, Template? Url, Template? Deployment = null);

/// <summary><c>container:</c> or one entry of <c>services:</c>. A bare string is the image.</summary>
public sealed record ContainerSpec(
    Template Image,
    IReadOnlyDictionary<string, Template> Env,
    IReadOnlyList<Template> Ports,
    IReadOnlyList<Template> Volumes,
    Template? Options,
    JsonNode? Credentials);

/// <summary><c>strategy:</c>. <see cref="Matrix"/> is the mapping as written (a JSON object whose string leaves
/// may be templates), or a string holding one expression (e.g. <c>${{ fromJSON(needs.a.outputs.m) }}</c>).</summary>
public sealed record StrategySpec(JsonNode? Matrix, SourcePos MatrixPos, Template? FailFast, Template? MaxParallel);

public enum Backoff
{
    Fixed,
    Exponential,
}

/// <summary>The <c>retry:</c> extension. Delays are parsed durations ("5s", "2m", "1h30m" or seconds).</summary>
public sealed record RetryPolicy(int MaxAttempts, Backoff Backoff, TimeSpan Delay, TimeSpan Jitter);

/// <summary>A job that calls a reusable workflow in this repository (<c>uses: ./.github/workflows/x.yml</c>).</summary>
/// <param name="InheritSecrets"><c>secrets: inherit</c>.</param>
public sealed record ReusableCall(string Path, SourcePos Pos, IReadOnlyDictionary<string, Template> With, IReadOnlyDictionary<string, Template> Secrets, bool InheritSecrets);

/// <param name="Id">The key under <c>jobs:</c>.</param>
/// <param name="If">The condition as written (bare or wrapped in <c>${{ }}</c>); null means <c>success()</c>.</param>
/// <param name="RunsOn">As written: a string, a list of strings, or <c>{group, labels}</c>; string leaves may be templates.</param>
/// <param name="TimeoutMinutes">A number or an expression; null means the default (360).</param>
/// <param name="ContinueOnError">"true"/"false" or an expression; null means false.</param>
/// <param name="Uses">Set for a job that calls a reusable workflow (then <see cref="Steps"/> is empty).</param>
public sealed record WorkflowJob(
    string Id,
    SourcePos Pos,
    Template? Name,
    IReadOnlyList<string> Needs,
    Template? If,
    JsonNode? RunsOn,
    EnvironmentSpec? Environment,
    ConcurrencySpec? Concurrency,
    IReadOnlyDictionary<string, Template> Outputs,
    IReadOnlyDictionary<string, Template> Env,
    RunDefaults? Defaults,
    Template? TimeoutMinutes,
    Template? ContinueOnError,
    ContainerSpec? Container,
    IReadOnlyDictionary<string, ContainerSpec> Services,
    StrategySpec? Strategy,
    IReadOnlyList<WorkflowStep> Steps,
    Priority? Priority,
    RetryPolicy? Retry,
    JsonNode? Permissions,
    ReusableCall? Uses);

/// <param name="Index">0-based position in the job's steps.</param>
/// <param name="Uses">The action reference as written (<c>actions/checkout@v4</c>, <c>./path</c>); null for a <c>run</c> step.</param>
/// <param name="Kind">The registered step kind that <see cref="Uses"/> resolved to (e.g. <c>checkout</c>); null for a <c>run</c> step.</param>
/// <param name="With">The <c>with:</c> inputs of a <c>uses</c> step.</param>
/// <param name="Background"><c>background:</c> "true"/"false" or an expression: the step starts and the job goes on
/// without waiting for it. Null means false.</param>
/// <param name="Wait"><c>wait:</c> ids of earlier background steps this step waits for (a step with no run/uses).</param>
/// <param name="WaitAll"><c>wait-all: true</c>: waits for every earlier background step.</param>
/// <param name="Cancel"><c>cancel:</c> the id of an earlier background step this step stops.</param>
public sealed record WorkflowStep(
    int Index,
    SourcePos Pos,
    string? Id,
    Template? Name,
    Template? If,
    Template? Run,
    Template? Shell,
    Template? WorkingDirectory,
    IReadOnlyDictionary<string, Template> Env,
    Template? ContinueOnError,
    Template? TimeoutMinutes,
    string? Uses,
    string? Kind,
    IReadOnlyDictionary<string, Template> With,
    Template? Background = null,
    IReadOnlyList<string>? Wait = null,
    bool WaitAll = false,
    string? Cancel = null);

/// <summary>An error in a workflow file. <see cref="Job"/> names the job it is in, when it is in one.</summary>
public sealed record WorkflowError(int Line, int Column, string Message, string? Job = null)
{
    public override string ToString() => $"{Line}:{Column}: {Message}";
}

public sealed record WorkflowParseResult(Workflow? Workflow, IReadOnlyList<WorkflowError> Errors)
{
    public bool IsValid => Workflow is not null && Errors.Count == 0;
}

/// <summary>YAML text in, a <see cref="Workflow"/> or every error found out (each with line and column). Never
/// throws for any input; time and memory are bounded (size, nesting and alias limits).</summary>
public interface IWorkflowParser
{
    WorkflowParseResult Parse(string yaml);
}

/// <summary>The step kinds a <c>uses:</c> may name. Built-ins: checkout, upload-artifact, download-artifact,
/// cache (for <c>actions/&lt;name&gt;@ref</c>); plugins register more later.</summary>
public interface IStepKindRegistry
{
    /// <summary>The kind claiming the action reference (e.g. <c>actions/checkout@v4</c> → <c>checkout</c>), or null.</summary>
    string? Resolve(string uses);
}
