using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Workflow;

internal sealed partial class WorkflowReader
{
    private static readonly string[] WorkflowKeys = ["name", "run-name", "on", "env", "defaults", "concurrency", "permissions", "jobs", "priority"];
    private static readonly string[] DefaultsKeys = ["run"];
    private static readonly string[] RunDefaultsKeys = ["shell", "working-directory"];
    private static readonly string[] ConcurrencyKeys = ["group", "cancel-in-progress"];
    private static readonly string[] PermissionScopes =
    [
        "actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues", "models",
        "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses",
    ];
    private static readonly string[] PermissionLevels = ["read", "write", "none"];
    private static readonly string[] Priorities = ["critical", "high", "normal", "low"];

    public Workflow? ReadWorkflow(YNode root)
    {
        if (root is YScalar { IsNull: true })
        {
            Error(new SourcePos(1, 1), "The workflow file is empty: it needs at least 'jobs'.");
            return null;
        }
        if (root is not YMapping)
        {
            Error(root, $"The workflow must be a mapping with at least 'jobs' (and usually 'on'), not {root.Kind}.");
            return null;
        }
        string? name = null;
        Template? runName = null;
        var on = new WorkflowTriggers(null, null, null, [], null, null, new Dictionary<string, JsonNode?>());
        IReadOnlyDictionary<string, Template> env = new Dictionary<string, Template>();
        RunDefaults? defaults = null;
        ConcurrencySpec? concurrency = null;
        JsonNode? permissions = null;
        Priority? priority = null;
        List<WorkflowJob>? jobs = null;
        foreach (var (key, keyNode, value) in Entries(root, "the workflow", WorkflowKeys))
        {
            switch (key)
            {
                case "name": name = Text(value, "'name'"); break;
                case "run-name": runName = Template(value, "'run-name'", ExpressionScopes.WorkflowLevel); break;
                case "on": on = ReadTriggers(value); break;
                case "env": env = TemplateMap(value, "'env'", ExpressionScopes.WorkflowEnv, envNames: true); break;
                case "defaults": defaults = ReadDefaults(value, "'defaults'", ExpressionScopes.WorkflowLevel); break;
                case "concurrency": concurrency = ReadConcurrency(value, "'concurrency'", ExpressionScopes.WorkflowLevel); break;
                case "permissions": permissions = ReadPermissions(value, "'permissions'"); break;
                case "priority": priority = ReadPriority(value, "'priority'"); break;
                case "jobs": jobs = ReadJobs(keyNode, value); break;
            }
        }
        if (!((YMapping)root).Entries.Any(e => e.Key is YScalar { Value: "jobs" }))
        {
            Error(root, "The workflow has no 'jobs': add a 'jobs' mapping with at least one job.");
        }
        return jobs is null ? null : new Workflow(name, runName, on, env, defaults, concurrency, permissions, priority, jobs);
    }

    private RunDefaults? ReadDefaults(YNode node, string what, Expressions.ExpressionParseOptions scope)
    {
        RunDefaults? result = null;
        foreach (var (_, _, run) in Entries(node, what, DefaultsKeys))
        {
            Template? shell = null, directory = null;
            foreach (var (key, _, value) in Entries(run, $"'run' of {what}", RunDefaultsKeys))
            {
                if (key == "shell") shell = ReadShell(value, $"'shell' of {what}", scope);
                else directory = Template(value, $"'working-directory' of {what}", scope);
            }
            result = new RunDefaults(shell, directory);
        }
        return result;
    }

    private ConcurrencySpec? ReadConcurrency(YNode node, string what, Expressions.ExpressionParseOptions scope)
    {
        if (node is YScalar)
        {
            return Template(node, what, scope) is { } group ? new ConcurrencySpec(group, null) : null;
        }
        Template? groupTemplate = null, cancel = null;
        foreach (var (key, _, value) in Entries(node, what, ConcurrencyKeys, nullIsEmpty: false))
        {
            if (key == "group") groupTemplate = Template(value, $"'group' of {what}", scope);
            else cancel = Boolean(value, $"'cancel-in-progress' of {what}", scope);
        }
        if (node is YMapping && groupTemplate is null && !HasKey(node, "group"))
        {
            Error(node, $"{Capitalized(what)} needs a 'group'.");
        }
        return groupTemplate is null ? null : new ConcurrencySpec(groupTemplate, cancel);
    }

    private JsonNode? ReadPermissions(YNode node, string what)
    {
        if (node is YScalar scalar)
        {
            if (scalar.Value is "read-all" or "write-all") return JsonValue.Create(scalar.Value);
            if (scalar.IsNull) return new JsonObject();
            Error(node, $"{Capitalized(what)} must be 'read-all', 'write-all' or a mapping of scopes to read, write or none, not '{scalar.Value}'.");
            return null;
        }
        var result = new JsonObject();
        foreach (var (key, _, value) in Entries(node, what, PermissionScopes))
        {
            var level = Text(value, $"'{key}' of {what}");
            if (level is null) continue;
            if (!PermissionLevels.Contains(level))
            {
                Error(value, $"'{key}' of {what} must be read, write or none, not '{level}'.");
                continue;
            }
            result[key] = level;
        }
        return result;
    }

    private Priority? ReadPriority(YNode node, string what)
    {
        if (Text(node, what) is not { } text) return null;
        if (Enum.TryParse<Priority>(text, ignoreCase: true, out var priority) && Priorities.Contains(text.ToLowerInvariant())) return priority;
        Error(node, $"{Capitalized(what)} must be one of {string.Join(", ", Priorities)}, not '{text}'.{Suggestions.DidYouMean(text, Priorities)}");
        return null;
    }

    private static bool HasKey(YNode node, string key) => node is YMapping mapping && mapping.Entries.Any(e => e.Key is YScalar s && s.Value == key);
}
