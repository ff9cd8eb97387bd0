using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Workflow;

internal sealed partial class WorkflowReader
{
    private static readonly string[] JobKeys =
    [
        "name", "needs", "if", "runs-on", "environment", "concurrency", "outputs", "env", "defaults", "timeout-minutes",
        "continue-on-error", "container", "services", "strategy", "steps", "permissions", "uses", "with", "secrets",
        "priority", "retry",
    ];

    /// <summary>The keys a job that calls a reusable workflow may not have (GitHub's rule: the called workflow's jobs own them).</summary>
    private static readonly string[] NotWithUses =
    [
        "runs-on", "environment", "outputs", "env", "defaults", "timeout-minutes", "continue-on-error", "container",
        "services", "steps",
    ];

    private List<WorkflowJob>? ReadJobs(YNode keyNode, YNode node)
    {
        if (node is YScalar { IsNull: true } or YMapping { Entries.Count: 0 })
        {
            Error(keyNode, "'jobs' is empty: a workflow needs at least one job.");
            return null;
        }
        if (node is not YMapping mapping)
        {
            Error(node, $"'jobs' must be a mapping of job ids to jobs, not {node.Kind}.");
            return null;
        }
        if (mapping.Entries.Count > WorkflowLimits.MaxJobs)
        {
            Error(keyNode, $"The workflow has {mapping.Entries.Count} jobs; at most {WorkflowLimits.MaxJobs} are allowed.");
            return null;
        }
        var jobs = new List<WorkflowJob>();
        var needNodes = new Dictionary<string, List<YScalar>>(StringComparer.Ordinal);
        foreach (var (id, idNode, value) in Entries(node, "'jobs'", null))
        {
            _job = id;
            if (!IsValidId(id))
            {
                Error(idNode, $"Job id '{id}' is invalid: it must start with a letter or '_' and hold only letters, digits, '-' and '_'.");
            }
            var needs = new List<YScalar>();
            if (ReadJob(id, idNode, value, needs) is { } job) jobs.Add(job);
            needNodes[id] = needs;
        }
        _job = null;
        CheckNeeds(jobs, needNodes);
        return jobs;
    }

    private WorkflowJob? ReadJob(string id, YNode idNode, YNode node, List<YScalar> needNodes)
    {
        var what = $"job '{id}'";
        if (node is not YMapping mapping)
        {
            Error(node, $"Job '{id}' must be a mapping with 'runs-on' and 'steps' (or 'uses'), not {node.Kind}.");
            return null;
        }
        var calls = mapping.Entries.Any(e => e.Key is YScalar { Value: "uses" });
        Template? name = null, condition = null, timeout = null, continueOnError = null;
        JsonNode? runsOn = null, permissions = null;
        EnvironmentSpec? environment = null;
        ConcurrencySpec? concurrency = null;
        IReadOnlyDictionary<string, Template> outputs = new Dictionary<string, Template>(), env = outputs, with = outputs, secrets = outputs;
        RunDefaults? defaults = null;
        ContainerSpec? container = null;
        IReadOnlyDictionary<string, ContainerSpec> services = new Dictionary<string, ContainerSpec>();
        StrategySpec? strategy = null;
        IReadOnlyList<WorkflowStep> steps = [];
        Priority? priority = null;
        RetryPolicy? retry = null;
        YScalar? usesNode = null;
        var inheritSecrets = false;
        foreach (var (key, keyNode, value) in Entries(node, what, JobKeys))
        {
            var where = $"'{key}' of {what}";
            if (calls && NotWithUses.Contains(key))
            {
                Error(keyNode, $"Job '{id}' calls a reusable workflow ('uses'), so it cannot have '{key}'; the called workflow's jobs set it.");
                continue;
            }
            if (!calls && key is "with" or "secrets")
            {
                Error(keyNode, $"'{key}' of {what} is only allowed with 'uses' (a call of a reusable workflow); a step passes inputs with its own 'with'.");
                continue;
            }
            switch (key)
            {
                case "name": name = Template(value, where, ExpressionScopes.Job); break;
                case "needs": needNodes.AddRange(StringList(value, where)); break;
                case "if": condition = Condition(value, where, ExpressionScopes.JobIf); break;
                case "runs-on": runsOn = ReadRunsOn(value, where); break;
                case "environment": environment = ReadEnvironment(value, where); break;
                case "concurrency": concurrency = ReadConcurrency(value, where, ExpressionScopes.Job); break;
                case "outputs": outputs = TemplateMap(value, where, ExpressionScopes.JobOutputs); break;
                case "env": env = TemplateMap(value, where, ExpressionScopes.JobEnv, envNames: true); break;
                case "defaults": defaults = ReadDefaults(value, where, ExpressionScopes.JobDefaults); break;
                case "timeout-minutes": timeout = Number(value, where, ExpressionScopes.Job, min: 0); break;
                case "continue-on-error": continueOnError = Boolean(value, where, ExpressionScopes.Job); break;
                case "container": container = ReadContainer(value, where); break;
                case "services": services = ReadServices(value, where); break;
                case "strategy": strategy = ReadStrategy(value, what); break;
                case "steps": steps = ReadSteps(id, keyNode, value); break;
                case "permissions": permissions = ReadPermissions(value, where); break;
                case "uses": usesNode = ReadReusableUses(value, where); break;
                case "with": with = TemplateMap(value, where, ExpressionScopes.Job); break;
                case "secrets":
                    if (value is YScalar { Value: "inherit" }) inheritSecrets = true;
                    else secrets = TemplateMap(value, where, ExpressionScopes.JobSecrets);
                    break;
                case "priority": priority = ReadPriority(value, where); break;
                case "retry": retry = ReadRetry(value, where); break;
            }
        }
        if (!calls && !HasKey(node, "steps"))
        {
            Error(idNode, $"Job '{id}' has no 'steps' (and no 'uses' calling a reusable workflow).");
        }
        var reusable = usesNode is null ? null : new ReusableCall(usesNode.Value, TextPos(usesNode), with, secrets, inheritSecrets);
        return new WorkflowJob(id, Pos(idNode), name, needNodes.Select(n => n.Value).Distinct(StringComparer.Ordinal).ToList(), condition, runsOn,
            environment, concurrency, outputs, env, defaults, timeout, continueOnError, container, services, strategy, steps,
            priority, retry, permissions, reusable);
    }

    /// <summary>A job-level <c>uses</c>: a workflow file of this repository; another repository's is not supported.</summary>
    private YScalar? ReadReusableUses(YNode node, string what)
    {
        if (Text(node, what) is not { } path) return null;
        var scalar = (YScalar)node;
        if (path.StartsWith("./", StringComparison.Ordinal))
        {
            if (path.StartsWith("./.github/workflows/", StringComparison.Ordinal) && (path.EndsWith(".yml", StringComparison.Ordinal) || path.EndsWith(".yaml", StringComparison.Ordinal)) && !path.Contains('@', StringComparison.Ordinal))
            {
                return scalar;
            }
            Error(TextPos(node), $"{Capitalized(what)} must name a workflow file as './.github/workflows/<file>.yml', not '{path}'.");
            return null;
        }
        Error(TextPos(node), $"unsupported reusable workflow '{path}' from another repository");
        return null;
    }

    private JsonNode? ReadRunsOn(YNode node, string what)
    {
        switch (node)
        {
            case YScalar:
                return Template(node, what, ExpressionScopes.Job) is { } label ? JsonValue.Create(label.Text) : null;
            case YSequence:
                return new JsonArray([.. StringList(node, what).Select(s => (JsonNode?)JsonValue.Create(Template(s, $"a label of {what}", ExpressionScopes.Job)!.Text))]);
            default:
                var result = new JsonObject();
                foreach (var (key, _, value) in Entries(node, what, ["group", "labels"]))
                {
                    result[key] = key == "group"
                        ? Template(value, $"'group' of {what}", ExpressionScopes.Job) is { } group ? JsonValue.Create(group.Text) : null
                        : new JsonArray([.. StringList(value, $"'labels' of {what}").Select(s => (JsonNode?)JsonValue.Create(Template(s, $"a label of {what}", ExpressionScopes.Job)!.Text))]);
                }
                return result;
        }
    }

    /// <summary>Each need names a job of this workflow, not the job itself, and needs form no cycle.</summary>
    private void CheckNeeds(List<WorkflowJob> jobs, Dictionary<string, List<YScalar>> needNodes)
    {
        var ids = needNodes.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var (id, needs) in needNodes)
        {
            _job = id;
            foreach (var need in needs)
            {
                if (need.Value == id) Error(TextPos(need), $"Job '{id}' needs itself.");
                else if (!ids.Contains(need.Value))
                {
                    Error(TextPos(need), $"Job '{id}' needs '{need.Value}', which is not a job in this workflow.{Suggestions.DidYouMean(need.Value, ids.Where(other => other != id))}");
                }
            }
        }
        _job = null;
        var graph = jobs.ToDictionary(j => j.Id, j => j.Needs.Where(n => n != j.Id && ids.Contains(n)).ToList(), StringComparer.Ordinal);
        foreach (var cycle in JobGraph.Cycles(graph))
        {
            _job = cycle[0];
            Error(jobs.First(j => j.Id == cycle[0]).Pos, $"The jobs' needs form a cycle: {string.Join(" -> ", cycle)}.");
        }
        _job = null;
    }
}
