using System.Globalization;
using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Workflow;

internal sealed partial class WorkflowReader
{
    private static readonly string[] Events =
    [
        "push", "pull_request", "pull_request_target", "schedule", "workflow_dispatch", "workflow_call",
        "branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment", "deployment_status",
        "discussion", "discussion_comment", "fork", "gollum", "image_version", "issue_comment", "issues", "label",
        "merge_group", "milestone", "page_build", "project", "project_card", "project_column", "public",
        "pull_request_review", "pull_request_review_comment", "registry_package", "release", "repository_dispatch",
        "status", "watch", "workflow_run",
    ];
    private static readonly string[] PushKeys = ["branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"];
    private static readonly string[] PullRequestKeys = ["branches", "branches-ignore", "paths", "paths-ignore", "types"];
    private static readonly string[] ScheduleKeys = ["cron"];
    private static readonly string[] DispatchKeys = ["inputs"];
    private static readonly string[] CallKeys = ["inputs", "outputs", "secrets"];
    private static readonly string[] DispatchInputKeys = ["description", "required", "default", "type", "options"];
    private static readonly string[] CallInputKeys = ["description", "required", "default", "type"];
    private static readonly string[] CallOutputKeys = ["description", "value"];
    private static readonly string[] CallSecretKeys = ["description", "required"];

    private WorkflowTriggers ReadTriggers(YNode node)
    {
        var events = new List<(string Name, YNode NameNode, YNode? Config)>();
        switch (node)
        {
            case YScalar { IsNull: true }:
                Error(node, "'on' is empty: name the events that start the workflow, e.g. 'on: push'.");
                break;
            case YScalar scalar:
                events.Add((scalar.Value, scalar, null));
                break;
            case YSequence:
                events.AddRange(StringList(node, "'on'").Select(s => (s.Value, (YNode)s, (YNode?)null)));
                break;
            default:
                events.AddRange(Entries(node, "'on'", null).Select(e => (e.Key, e.KeyNode, (YNode?)e.Value)));
                break;
        }
        RefTrigger? push = null, pullRequest = null, pullRequestTarget = null;
        List<ScheduleTrigger> schedule = [];
        DispatchTrigger? dispatch = null;
        CallTrigger? call = null;
        var other = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (name, nameNode, config) in events)
        {
            var what = $"'on.{name}'";
            switch (name)
            {
                case "push": push = ReadRefTrigger(config, what, PushKeys); break;
                case "pull_request": pullRequest = ReadRefTrigger(config, what, PullRequestKeys); break;
                case "pull_request_target": pullRequestTarget = ReadRefTrigger(config, what, PullRequestKeys); break;
                case "schedule": schedule = ReadSchedule(config ?? nameNode, what); break;
                case "workflow_dispatch": dispatch = new DispatchTrigger(ReadDispatch(config, what)); break;
                case "workflow_call": call = ReadCall(config, what); break;
                case var known when Events.Contains(known):
                    other[known] = config is null ? null : Json(config, what, null);
                    break;
                default:
                    Error(nameNode, $"Unknown event '{name}' in 'on'.{Suggestions.DidYouMean(name, Events)} Events: {string.Join(", ", Events)}.");
                    break;
            }
        }
        return new WorkflowTriggers(push, pullRequest, pullRequestTarget, schedule, dispatch, call, other);
    }

    private RefTrigger ReadRefTrigger(YNode? node, string what, string[] allowed)
    {
        var lists = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var nodes = new Dictionary<string, YNode>(StringComparer.Ordinal);
        if (node is not null)
        {
            foreach (var (key, keyNode, value) in Entries(node, what, allowed))
            {
                lists[key] = StringList(value, $"'{key}' of {what}").Select(s => s.Value).ToList();
                nodes[key] = keyNode;
            }
        }
        foreach (var filter in new[] { "branches", "tags", "paths" })
        {
            if (nodes.ContainsKey(filter) && nodes.TryGetValue(filter + "-ignore", out var ignore))
            {
                Error(ignore, $"{Capitalized(what)} has both '{filter}' and '{filter}-ignore'; use one (a '!' pattern in '{filter}' excludes).");
            }
        }
        IReadOnlyList<string> Get(string key) => lists.GetValueOrDefault(key) ?? [];
        return new RefTrigger(Get("branches"), Get("branches-ignore"), Get("tags"), Get("tags-ignore"), Get("paths"), Get("paths-ignore"), Get("types"));
    }

    private List<ScheduleTrigger> ReadSchedule(YNode node, string what)
    {
        var result = new List<ScheduleTrigger>();
        if (node is not YSequence sequence || sequence.Items.Count == 0)
        {
            Error(node, $"{Capitalized(what)} must be a list of '- cron: \"...\"' entries.");
            return result;
        }
        foreach (var item in sequence.Items)
        {
            foreach (var (_, _, value) in Entries(item, $"an entry of {what}", ScheduleKeys, nullIsEmpty: false))
            {
                if (Text(value, $"'cron' of {what}") is not { } cron) continue;
                if (CronSchedule.Validate(cron) is { } problem) Error(TextPos(value), $"Invalid cron '{cron}': {problem}.");
                result.Add(new ScheduleTrigger(cron, TextPos(value)));
            }
            if (item is YMapping && !HasKey(item, "cron")) Error(item, $"An entry of {what} needs 'cron'.");
        }
        return result;
    }

    private Dictionary<string, InputSpec> ReadDispatch(YNode? node, string what)
    {
        var inputs = new Dictionary<string, InputSpec>(StringComparer.Ordinal);
        if (node is null) return inputs;
        foreach (var (_, _, value) in Entries(node, what, DispatchKeys))
        {
            foreach (var (name, nameNode, config) in Entries(value, $"'inputs' of {what}", null))
            {
                if (ReadInput(name, nameNode, config, $"input '{name}' of {what}", dispatch: true) is { } input) inputs[name] = input;
            }
        }
        return inputs;
    }

    private CallTrigger ReadCall(YNode? node, string what)
    {
        var inputs = new Dictionary<string, InputSpec>(StringComparer.Ordinal);
        var outputs = new Dictionary<string, Template>(StringComparer.Ordinal);
        var secrets = new List<string>();
        if (node is null) return new CallTrigger(inputs, outputs, secrets);
        foreach (var (key, _, value) in Entries(node, what, CallKeys))
        {
            foreach (var (name, nameNode, config) in Entries(value, $"'{key}' of {what}", null))
            {
                var where = $"{key[..^1]} '{name}' of {what}";
                switch (key)
                {
                    case "inputs":
                        if (ReadInput(name, nameNode, config, where, dispatch: false) is { } input) inputs[name] = input;
                        break;
                    case "outputs":
                        foreach (var (_, _, output) in Entries(config, where, CallOutputKeys, nullIsEmpty: false).Where(e => e.Key == "value"))
                        {
                            if (Template(output, $"'value' of {where}", ExpressionScopes.CallOutput) is { } template) outputs[name] = template;
                        }
                        if (config is YMapping && !HasKey(config, "value")) Error(nameNode, $"{Capitalized(where)} needs a 'value'.");
                        break;
                    default:
                        foreach (var (field, _, fieldValue) in Entries(config, where, CallSecretKeys))
                        {
                            if (field == "required") Flag(fieldValue, $"'required' of {where}");
                        }
                        secrets.Add(name);
                        break;
                }
            }
        }
        return new CallTrigger(inputs, outputs, secrets);
    }

    private InputSpec? ReadInput(string name, YNode nameNode, YNode config, string what, bool dispatch)
    {
        if (!IsValidId(name)) Error(nameNode, $"Input name '{name}' is invalid: it must start with a letter or '_' and hold only letters, digits, '-' and '_'.");
        string? description = null, defaultValue = null;
        YNode? defaultNode = null, typeNode = null;
        var required = false;
        var type = InputType.String;
        var options = new List<string>();
        foreach (var (key, _, value) in Entries(config, what, dispatch ? DispatchInputKeys : CallInputKeys))
        {
            switch (key)
            {
                case "description": description = Text(value, $"'description' of {what}"); break;
                case "required":
                    required = Flag(value, $"'required' of {what}");
                    break;
                case "default":
                    defaultNode = value;
                    defaultValue = dispatch ? Text(value, $"'default' of {what}") : Template(value, $"'default' of {what}", ExpressionScopes.WorkflowLevel)?.Text;
                    break;
                case "type":
                    typeNode = value;
                    type = ReadInputType(value, what, dispatch) ?? type;
                    break;
                case "options": options = StringList(value, $"'options' of {what}").Select(s => s.Value).ToList(); break;
            }
        }
        if (!dispatch && typeNode is null) Error(nameNode, $"{Capitalized(what)} needs a 'type' (boolean, number or string).");
        if (type == InputType.Choice && options.Count == 0) Error(typeNode ?? nameNode, $"{Capitalized(what)} is a choice and needs 'options'.");
        if (defaultValue is not null && defaultNode is not null && !ExpressionTemplateText(defaultValue))
        {
            defaultValue = CheckDefault(defaultValue, defaultNode, type, options, what);
        }
        return new InputSpec(name, type, description, required, defaultValue, options);
    }

    private static bool ExpressionTemplateText(string text) => Expressions.ExpressionTemplate.ContainsExpression(text);

    private string? CheckDefault(string value, YNode node, InputType type, List<string> options, string what)
    {
        switch (type)
        {
            case InputType.Boolean when ParseBoolean(value) is { } flag:
                return flag ? "true" : "false";
            case InputType.Boolean:
                Error(node, $"'default' of {what} must be true or false, not '{value}'.");
                return value;
            case InputType.Number when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number):
                return number.ToString(CultureInfo.InvariantCulture);
            case InputType.Number:
                Error(node, $"'default' of {what} must be a number, not '{value}'.");
                return value;
            case InputType.Choice when options.Count > 0 && !options.Contains(value):
                Error(node, $"'default' of {what} must be one of its options ({string.Join(", ", options)}), not '{value}'.");
                return value;
            default:
                return value;
        }
    }

    private InputType? ReadInputType(YNode node, string what, bool dispatch)
    {
        if (Text(node, $"'type' of {what}") is not { } text) return null;
        string[] allowed = dispatch ? ["string", "boolean", "number", "choice", "environment"] : ["string", "boolean", "number"];
        if (allowed.Contains(text)) return Enum.Parse<InputType>(text, ignoreCase: true);
        Error(node, $"'type' of {what} must be one of {string.Join(", ", allowed)}, not '{text}'.{Suggestions.DidYouMean(text, allowed)}");
        return null;
    }

    /// <summary>A literal true/false (no expression); false and an error otherwise.</summary>
    private bool Flag(YNode node, string what)
    {
        if (Text(node, what) is not { } text) return false;
        if (ParseBoolean(text) is { } flag) return flag;
        Error(node, $"{Capitalized(what)} must be true or false, not '{text}'.");
        return false;
    }
}
