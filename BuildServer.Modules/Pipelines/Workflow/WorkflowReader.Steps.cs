using BuildServer.Modules.Pipelines.Expressions;

namespace BuildServer.Modules.Pipelines.Workflow;

internal sealed partial class WorkflowReader
{
    private static readonly string[] StepKeys =
        [
            "id", "name", "if", "run", "shell", "working-directory", "env", "continue-on-error", "timeout-minutes", "uses", "with",
            "background", "wait", "wait-all", "cancel", "parallel",
        ];

    /// <summary>Keys of a step that controls background steps instead of running something.</summary>
    private static readonly string[] ControlKeys = ["wait", "wait-all", "cancel"];
    private static readonly string[] Shells = ["bash", "sh", "python", "pwsh", "powershell", "cmd"];

    private List<WorkflowStep> ReadSteps(string job, YNode keyNode, YNode node)
    {
        var steps = new List<WorkflowStep>();
        if (node is not YSequence sequence || sequence.Items.Count == 0)
        {
            Error(node is YScalar { IsNull: true } ? keyNode : node, $"'steps' of job '{job}' must be a non-empty list of steps.");
            return steps;
        }
        if (sequence.Items.Count > WorkflowLimits.MaxStepsPerJob)
        {
            Error(keyNode, $"Job '{job}' has {sequence.Items.Count} steps; at most {WorkflowLimits.MaxStepsPerJob} are allowed.");
            return steps;
        }
        var ids = new Dictionary<string, YNode>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            if (ReadStep(job, i, sequence.Items[i], ids) is { } step) steps.Add(step);
        }
        return steps;
    }

    private WorkflowStep? ReadStep(string job, int index, YNode node, Dictionary<string, YNode> ids)
    {
        var what = $"step {index + 1} of job '{job}'";
        if (node is not YMapping)
        {
            Error(node, $"{Capitalized(what)} must be a mapping with 'run' or 'uses', not {node.Kind}.");
            return null;
        }
        string? id = null, uses = null, kind = null;
        Template? name = null, condition = null, run = null, shell = null, directory = null, continueOnError = null, timeout = null, background = null;
        List<string>? wait = null;
        var waitAll = false;
        string? cancel = null;
        IReadOnlyDictionary<string, Template> env = new Dictionary<string, Template>(), with = env;
        YNode? withKey = null;
        foreach (var (key, keyNode, value) in Entries(node, what, StepKeys))
        {
            var where = $"'{key}' of {what}";
            switch (key)
            {
                case "id": id = ReadStepId(value, where, job, ids); break;
                case "name": name = Template(value, where, ExpressionScopes.Step); break;
                case "if": condition = Condition(value, where, ExpressionScopes.StepIf); break;
                case "run": run = Template(value, where, ExpressionScopes.Step); break;
                case "shell": shell = ReadShell(value, where, ExpressionScopes.Step); break;
                case "working-directory": directory = Template(value, where, ExpressionScopes.Step); break;
                case "env": env = TemplateMap(value, where, ExpressionScopes.Step, envNames: true); break;
                case "continue-on-error": continueOnError = Boolean(value, where, ExpressionScopes.Step); break;
                case "timeout-minutes": timeout = Number(value, where, ExpressionScopes.Step, min: 0); break;
                case "uses": (uses, kind) = ReadAction(value, where); break;
                case "with":
                    withKey = keyNode;
                    with = TemplateMap(value, where, ExpressionScopes.Step);
                    break;
                case "background": background = Boolean(value, where, ExpressionScopes.Step); break;
                case "wait": wait = StringList(value, where).Select(s => EarlierStep(s, where, ids)).ToList(); break;
                case "wait-all": waitAll = Flag(value, where); break;
                case "cancel": cancel = Text(value, where) is not null ? EarlierStep((YScalar)value, where, ids) : null; break;
                case "parallel":
                    Error(keyNode, $"'parallel' step groups ({what}) are not supported yet; give the steps 'background: true' and add a step with 'wait-all: true' after them.");
                    break;
            }
        }
        // A 'parallel' group was reported above; saying it lacks 'run' too would only add noise.
        if (!HasKey(node, "parallel")) CheckOneAction(node, what, withKey);
        return new WorkflowStep(index, Pos(node), id, name, condition, run, shell, directory, env, continueOnError, timeout, uses, kind, with,
            background, wait, waitAll, cancel);
    }

    /// <summary>A step does exactly one thing: run, uses, wait, wait-all or cancel.</summary>
    private void CheckOneAction(YNode node, string what, YNode? withKey)
    {
        var hasRun = HasKey(node, "run");
        var hasUses = HasKey(node, "uses");
        var controls = ControlKeys.Count(k => HasKey(node, k));
        if (controls > 0 && (hasRun || hasUses || controls > 1))
        {
            Error(node, $"{Capitalized(what)} may do one thing: 'run', 'uses', 'wait', 'wait-all' or 'cancel'.");
        }
        else if (controls == 0 && hasRun == hasUses)
        {
            Error(node, hasRun
                ? $"{Capitalized(what)} has both 'run' and 'uses'; a step does one of them."
                : $"{Capitalized(what)} needs 'run' (a command) or 'uses' (an action).");
        }
        if (hasRun && withKey is not null) Error(withKey, $"'with' of {what} is for 'uses' steps; a 'run' step takes 'env'.");
    }

    /// <summary>A step id that <c>wait</c> or <c>cancel</c> names: it must be an earlier step of the job.</summary>
    private string EarlierStep(YScalar node, string what, Dictionary<string, YNode> ids)
    {
        if (!ids.ContainsKey(node.Value))
        {
            Error(TextPos(node), $"{Capitalized(what)} names '{node.Value}', which is not the id of an earlier step of this job.{Suggestions.DidYouMean(node.Value, ids.Keys)}");
        }
        return node.Value;
    }

    private string? ReadStepId(YNode node, string what, string job, Dictionary<string, YNode> ids)
    {
        if (Text(node, what) is not { } id) return null;
        if (!IsValidId(id))
        {
            Error(TextPos(node), $"Step id '{id}' in job '{job}' is invalid: it must start with a letter or '_' and hold only letters, digits, '-' and '_'.");
        }
        else if (!ids.TryAdd(id, node))
        {
            Error(TextPos(node), $"Step id '{id}' is used twice in job '{job}' (first at line {ids[id].Start.Line}); step ids must be unique in a job.");
        }
        return id;
    }

    private (string? Uses, string? Kind) ReadAction(YNode node, string what)
    {
        if (Text(node, what) is not { } uses) return (null, null);
        if (kinds.Resolve(uses) is { } kind) return (uses, kind);
        if (!uses.Contains('@', StringComparison.Ordinal) && !uses.StartsWith("./", StringComparison.Ordinal) && !uses.StartsWith("docker://", StringComparison.Ordinal)
            && kinds.Resolve(uses + "@v1") is not null)
        {
            Error(TextPos(node), $"The action '{uses}' in {what} needs a version after '@', e.g. '{uses}@v4'.");
        }
        else
        {
            Error(TextPos(node), $"unsupported action '{uses}'");
        }
        return (uses, null);
    }

    private Template? ReadShell(YNode node, string what, ExpressionParseOptions scope)
    {
        var shell = Template(node, what, scope);
        if (shell is null || shell.HasExpressions || Shells.Contains(shell.Text) || shell.Text.Contains("{0}", StringComparison.Ordinal)) return shell;
        Error(node, $"{Capitalized(what)} must be one of {string.Join(", ", Shells)} or a command template containing '{{0}}' (e.g. 'bash -e {{0}}'), not '{shell.Text}'.{Suggestions.DidYouMean(shell.Text, Shells)}");
        return shell;
    }
}
