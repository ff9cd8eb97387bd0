using System.Globalization;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Pipelines.Planning;

/// <summary>What a run's expressions see from its trigger: the <c>github</c> context, <c>inputs</c> and <c>vars</c>.</summary>
public sealed record RunContext(JsonObject Github, JsonObject Inputs, JsonObject Vars);

/// <summary>A workflow job before its matrix is expanded, with what it inherits from the workflow. A job is
/// expanded when it is admitted (its needs have finished), because its matrix, name and runs-on may use
/// <c>needs</c>; a job without needs is admitted when the run is created.</summary>
public sealed record JobTemplate(
    string WorkflowName,
    IReadOnlyDictionary<string, Template> WorkflowEnv,
    RunDefaults? WorkflowDefaults,
    Priority? WorkflowPriority,
    WorkflowJob Job);

/// <summary>The jobs a template expanded into, or why it could not be expanded (an error a person can act on,
/// with the line:column of the key at fault).</summary>
public sealed record ExpansionResult(IReadOnlyList<JobSpec> Jobs, string? Error);

/// <summary>Whether a job runs, decided when its needs have finished; <see cref="Error"/> when its <c>if</c> failed to evaluate.</summary>
public sealed record ConditionResult(bool Run, string? Error);

/// <summary>A run's concurrency group (null: none) and whether it cancels the group's runs in progress, or why it could not be evaluated.</summary>
public sealed record ConcurrencyResult(string? Group, bool CancelInProgress, WorkflowError? Error);

/// <summary>The result of one finished job instance, as <c>needs.&lt;job&gt;</c> sees it.</summary>
/// <param name="Result">success, failure, cancelled or skipped.</param>
public sealed record NeedResult(string JobId, string Result, IReadOnlyDictionary<string, string> Outputs);

/// <summary>
/// The plan: from a parsed workflow to the jobs a run executes. Pure functions, shared by the server
/// (Runs) and <c>buildserver run</c>, so both decide the same way.
/// </summary>
public static class Planner
{
    public const int DefaultTimeoutMinutes = 360;

    private static readonly string[] JobIfContexts = ["github", "ci", "needs", "vars", "inputs"];
    private static readonly string[] StrategyContexts = ["github", "ci", "needs", "vars", "inputs"];
    private static readonly string[] JobKeyContexts = ["github", "ci", "needs", "strategy", "matrix", "vars", "inputs"];

    private static readonly ExpressionParseOptions JobIfOptions =
        new(JobIfContexts, [.. ExpressionParseOptions.GeneralFunctions, .. ExpressionParseOptions.StatusFunctions]);
    private static readonly ExpressionParseOptions StrategyOptions = new(StrategyContexts);
    private static readonly ExpressionParseOptions JobKeyOptions = new(JobKeyContexts);

    /// <summary>The workflow's jobs as templates, in the file's order (needs are checked by the parser).</summary>
    public static IReadOnlyList<JobTemplate> Templates(Workflow.Workflow workflow)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        return workflow.Jobs.Select(j => new JobTemplate(workflow.Name ?? "", workflow.Env, workflow.Defaults, workflow.Priority, j)).ToList();
    }

    /// <summary>The <c>needs</c> context of a job, from the finished instances of the jobs it needs. A matrix
    /// job's result is failure if any instance failed, else cancelled if any was, else skipped if all were,
    /// else success; its outputs are merged (GitHub does the same: the last instance to set one wins).</summary>
    public static JsonObject NeedsContext(IEnumerable<string> needs, IEnumerable<NeedResult> finished)
    {
        ArgumentNullException.ThrowIfNull(needs);
        var byJob = finished.GroupBy(f => f.JobId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var context = new JsonObject();
        foreach (var need in needs)
        {
            var instances = byJob.GetValueOrDefault(need) ?? [];
            var outputs = new JsonObject();
            foreach (var instance in instances)
            {
                foreach (var (k, v) in instance.Outputs) outputs[k] = v;
            }
            context[need] = new JsonObject { ["result"] = Aggregate(instances.Select(i => i.Result)), ["outputs"] = outputs };
        }
        return context;
    }

    public static string Aggregate(IEnumerable<string> results)
    {
        var set = results.ToHashSet(StringComparer.Ordinal);
        if (set.Contains("failure")) return "failure";
        if (set.Contains("cancelled")) return "cancelled";
        if (set.Count == 0 || set.All(r => r == "skipped")) return "skipped";
        return "success";
    }

    /// <summary>The longest concurrency group name kept.</summary>
    public const int MaxConcurrencyGroupLength = 400;

    /// <summary>The workflow's <c>concurrency</c> (group, cancel-in-progress), evaluated when the run is created with
    /// github, inputs and vars. No group (none set, or an empty one) means the run is not limited.</summary>
    public static ConcurrencyResult Concurrency(ConcurrencySpec? spec, RunContext run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (spec is null) return new ConcurrencyResult(null, false, null);
        var context = new EvaluationContext(Contexts(run, new JsonObject(), null, null));
        var key = "concurrency.group";
        var pos = spec.Group.Pos;
        try
        {
            var group = Display(spec.Group.HasExpressions ? ExpressionTemplate.Parse(spec.Group.Text, JobKeyOptions).EvaluateValue(context) : JsonValue.Create(spec.Group.Text)).Trim();
            if (group.Length > MaxConcurrencyGroupLength)
            {
                return new ConcurrencyResult(null, false, new WorkflowError(pos.Line, pos.Column, $"'{key}' evaluated to {group.Length} characters; at most {MaxConcurrencyGroupLength} are allowed."));
            }
            var cancel = false;
            if (spec.CancelInProgress is { } c)
            {
                key = "concurrency.cancel-in-progress";
                pos = c.Pos;
                var value = c.HasExpressions ? ExpressionTemplate.Parse(c.Text, JobKeyOptions).EvaluateValue(context) : JsonValue.Create(c.Text);
                cancel = value switch
                {
                    JsonValue v when v.TryGetValue(out bool b) => b,
                    JsonValue v when v.TryGetValue(out string? t) && bool.TryParse(t.Trim(), out var b) => b,
                    _ => throw new PlanException($"'{key}' must be true or false, not {Describe(value)}."),
                };
            }
            return new ConcurrencyResult(group.Length == 0 ? null : group, cancel, null);
        }
        catch (ExpressionException e)
        {
            return new ConcurrencyResult(null, false, new WorkflowError(pos.Line, pos.Column, $"'{key}': {e.Error.Message}"));
        }
        catch (PlanException e)
        {
            return new ConcurrencyResult(null, false, new WorkflowError(pos.Line, pos.Column, e.Message));
        }
    }

    /// <summary>Evaluates the job's <c>if</c> (default <c>success()</c>) once its needs have finished:
    /// success() is true when every need succeeded, failure() when one failed, cancelled() when the run was cancelled.</summary>
    public static ConditionResult ShouldRun(JobTemplate template, RunContext run, JsonObject needs, bool runCancelled)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(needs);
        var results = needs.Select(n => n.Value?["result"]?.GetValue<string>() ?? "skipped").ToList();
        var status = new ExpressionStatus(
            Success: !runCancelled && results.All(r => r == "success"),
            Failure: results.Any(r => r == "failure"),
            Cancelled: runCancelled);
        var condition = template.Job.If;
        if (condition is null || string.IsNullOrWhiteSpace(condition.Text))
        {
            return new ConditionResult(status.Success, null);
        }
        try
        {
            var expression = Expression.ParseCondition(condition.Text, JobIfOptions);
            var context = new EvaluationContext(Contexts(run, needs, null, null), status);
            return new ConditionResult(expression.EvaluateCondition(context), null);
        }
        catch (ExpressionException e)
        {
            return new ConditionResult(false, $"{condition.Pos}: 'if' of job '{template.Job.Id}': {e.Error.Message}");
        }
    }

    /// <summary>Expands the job's matrix (evaluated with github, needs, vars and inputs) and evaluates the
    /// job-level keys of each combination: name, runs-on, timeout-minutes, continue-on-error, environment.</summary>
    public static ExpansionResult Expand(JobTemplate template, RunContext run, JsonObject needs)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(needs);
        var job = template.Job;
        if (job.Uses is { } call)
        {
            return Fail($"{call.Pos}: job '{job.Id}' calls the reusable workflow '{call.Path}'; running reusable workflows is not supported yet.");
        }
        try
        {
            var strategyContext = new EvaluationContext(Contexts(run, needs, null, null));
            IReadOnlyList<JsonObject?> combinations = [null];
            bool failFast = true;
            int? maxParallel = null;
            if (job.Strategy is { } strategy)
            {
                if (strategy.Matrix is not null)
                {
                    var matrix = EvaluateMatrix(strategy.Matrix, strategy.MatrixPos, job.Id, strategyContext);
                    if (matrix is not JsonObject matrixObject)
                    {
                        return Fail($"{strategy.MatrixPos}: the matrix of job '{job.Id}' must be a mapping, but evaluated to {Describe(matrix)}.");
                    }
                    var expanded = MatrixExpansion.Expand(matrixObject);
                    if (expanded.Error is not null)
                    {
                        return Fail($"{strategy.MatrixPos}: job '{job.Id}': {expanded.Error}");
                    }
                    combinations = expanded.Combinations;
                }
                if (strategy.FailFast is { } ff) failFast = Boolean(ff, "strategy.fail-fast", job.Id, strategyContext);
                if (strategy.MaxParallel is { } mp)
                {
                    var value = Number(mp, "strategy.max-parallel", job.Id, strategyContext);
                    if (value < 1 || value != Math.Floor(value))
                    {
                        return Fail($"{mp.Pos}: 'strategy.max-parallel' of job '{job.Id}' must be a whole number of at least 1, not {Format(value)}.");
                    }
                    maxParallel = (int)value;
                }
            }
            var specs = new List<JobSpec>(combinations.Count);
            for (var i = 0; i < combinations.Count; i++)
            {
                var matrix = combinations[i];
                var strategyObject = new JsonObject
                {
                    ["fail-fast"] = failFast,
                    ["job-index"] = i,
                    ["job-total"] = combinations.Count,
                    ["max-parallel"] = maxParallel ?? combinations.Count,
                };
                specs.Add(Instance(template, run, needs, matrix, strategyObject));
            }
            return new ExpansionResult(specs, null);
        }
        catch (PlanException e)
        {
            return Fail(e.Message);
        }
    }

    private static JobSpec Instance(JobTemplate template, RunContext run, JsonObject needs, JsonObject? matrix, JsonObject strategy)
    {
        var job = template.Job;
        var context = new EvaluationContext(Contexts(run, needs, matrix, strategy));
        var name = job.Name is { } n ? Text(n, "name", job.Id, context) : job.Id;
        if (matrix is { Count: > 0 } && !(job.Name?.Text.Contains("matrix", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            name += " (" + string.Join(", ", matrix.Select(p => Display(p.Value))) + ")";
        }
        var timeout = job.TimeoutMinutes is { } t ? Number(t, "timeout-minutes", job.Id, context) : DefaultTimeoutMinutes;
        if (timeout <= 0)
        {
            throw new PlanException($"{job.TimeoutMinutes!.Pos}: 'timeout-minutes' of job '{job.Id}' must be more than 0, not {Format(timeout)}.");
        }
        return new JobSpec(
            WorkflowName: template.WorkflowName,
            JobId: job.Id,
            Name: name,
            Matrix: matrix,
            Strategy: strategy,
            Needs: job.Needs,
            If: job.If,
            RunsOn: RunsOn(job, context),
            Priority: job.Priority ?? template.WorkflowPriority ?? Priority.Normal,
            TimeoutMinutes: timeout,
            ContinueOnError: job.ContinueOnError is { } c && Boolean(c, "continue-on-error", job.Id, context),
            Retry: job.Retry,
            Environment: job.Environment is { } env ? Text(env.Name, "environment", job.Id, context) : null,
            WorkflowEnv: template.WorkflowEnv,
            Env: job.Env,
            Defaults: MergeDefaults(template.WorkflowDefaults, job.Defaults),
            Container: job.Container,
            Services: job.Services,
            Outputs: job.Outputs,
            Steps: job.Steps);
    }

    private static RunDefaults? MergeDefaults(RunDefaults? workflow, RunDefaults? job) =>
        workflow is null ? job : job is null ? workflow : new RunDefaults(job.Shell ?? workflow.Shell, job.WorkingDirectory ?? workflow.WorkingDirectory);

    private static List<string> RunsOn(WorkflowJob job, EvaluationContext context)
    {
        var labels = new List<string>();
        void Add(JsonNode? node)
        {
            switch (node)
            {
                case null: break;
                case JsonArray array:
                    foreach (var item in array) Add(item);
                    break;
                case JsonObject obj:
                    Add(obj["labels"]);
                    break;
                case JsonValue value when value.TryGetValue(out string? text):
                    if (ExpressionTemplate.ContainsExpression(text))
                    {
                        Add(Evaluate(new Template(text, job.Pos), "runs-on", job.Id, context));
                    }
                    else if (text.Length > 0)
                    {
                        labels.Add(text);
                    }
                    break;
                default:
                    labels.Add(node.ToJsonString());
                    break;
            }
        }
        Add(job.RunsOn);
        return labels.Distinct(StringComparer.Ordinal).ToList();
    }

    private static JsonNode? EvaluateMatrix(JsonNode matrix, SourcePos pos, string jobId, EvaluationContext context) => matrix switch
    {
        JsonValue v when v.TryGetValue(out string? text) && ExpressionTemplate.ContainsExpression(text) =>
            Evaluate(new Template(text, pos), "strategy.matrix", jobId, context),
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : EvaluateMatrix(p.Value, pos, jobId, context)))),
        JsonArray array => new JsonArray(array.Select(item => item is null ? null : EvaluateMatrix(item, pos, jobId, context)).ToArray()),
        _ => matrix.DeepClone(),
    };

    private static Dictionary<string, JsonNode?> Contexts(RunContext run, JsonObject needs, JsonObject? matrix, JsonObject? strategy) => new()
    {
        ["github"] = run.Github,
        ["ci"] = run.Github,
        ["inputs"] = run.Inputs,
        ["vars"] = run.Vars,
        ["needs"] = needs,
        ["matrix"] = matrix ?? new JsonObject(),
        ["strategy"] = strategy ?? new JsonObject(),
    };

    private static JsonNode? Evaluate(Template template, string key, string jobId, EvaluationContext context)
    {
        if (!template.HasExpressions)
        {
            return JsonValue.Create(template.Text);
        }
        try
        {
            var options = key.StartsWith("strategy", StringComparison.Ordinal) ? StrategyOptions : JobKeyOptions;
            return ExpressionTemplate.Parse(template.Text, options).EvaluateValue(context);
        }
        catch (ExpressionException e)
        {
            throw new PlanException($"{template.Pos}: '{key}' of job '{jobId}': {e.Error.Message}");
        }
    }

    private static string Text(Template template, string key, string jobId, EvaluationContext context) =>
        Evaluate(template, key, jobId, context) switch
        {
            null => "",
            JsonValue v when v.TryGetValue(out string? s) => s,
            var other => other.ToJsonString(),
        };

    private static bool Boolean(Template template, string key, string jobId, EvaluationContext context) =>
        Evaluate(template, key, jobId, context) switch
        {
            JsonValue v when v.TryGetValue(out bool b) => b,
            JsonValue v when v.TryGetValue(out string? s) && bool.TryParse(s.Trim(), out var b) => b,
            null => false,
            var other => throw new PlanException($"{template.Pos}: '{key}' of job '{jobId}' must be true or false, not {Describe(other)}."),
        };

    private static double Number(Template template, string key, string jobId, EvaluationContext context) =>
        Evaluate(template, key, jobId, context) switch
        {
            JsonValue v when v.TryGetValue(out double d) => d,
            JsonValue v when v.TryGetValue(out string? s) && double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            var other => throw new PlanException($"{template.Pos}: '{key}' of job '{jobId}' must be a number, not {Describe(other)}."),
        };

    private static string Display(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o => string.Join(", ", o.Select(p => Display(p.Value))),
        JsonArray a => string.Join(", ", a.Select(Display)),
        _ => value.ToJsonString(),
    };

    private static string Describe(JsonNode? value) => value switch
    {
        null => "null",
        JsonValue v when v.TryGetValue(out string? s) => $"the string '{(s.Length > 60 ? s[..60] + "…" : s)}'",
        JsonArray => "a list",
        JsonObject => "a mapping",
        _ => value.ToJsonString(),
    };

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static ExpansionResult Fail(string error) => new([], error);

    private sealed class PlanException(string message) : Exception(message);
}
