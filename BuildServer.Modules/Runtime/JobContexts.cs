using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// The contexts a job's expressions see. Fixed ones are built once; <c>steps</c>, <c>job.status</c> and
/// <c>github.action</c> change as the job goes, and <c>env</c> is whatever is in effect for the key being
/// evaluated. The engine only reads the nodes, so one set serves every evaluation of the job.
/// </summary>
internal sealed class JobContexts
{
    private readonly JsonObject _github;
    private readonly JsonObject _job;
    private readonly Dictionary<string, JsonNode?> _fixed;

    public JobContexts(JobSpec spec, JobContext context, RunnerInfo runner, string workspace, string hostWorkspace, string eventPath)
    {
        HostWorkspace = hostWorkspace;
        _github = (JsonObject)context.Github.DeepClone();
        _github["job"] = spec.JobId;
        _github["workspace"] = workspace;
        _github["event_path"] = eventPath;
        _github.Remove("token"); // secrets travel only in the secrets context
        if (!_github.ContainsKey("workflow")) _github["workflow"] = spec.WorkflowName;
        _job = new JsonObject
        {
            ["status"] = "success",
            ["container"] = new JsonObject { ["id"] = null, ["network"] = null },
            ["services"] = new JsonObject(),
        };
        var secrets = new JsonObject();
        foreach (var (name, value) in context.Secrets) secrets[name] = value;
        _fixed = new Dictionary<string, JsonNode?>(StringComparer.OrdinalIgnoreCase)
        {
            ["github"] = _github,
            ["ci"] = _github,
            ["job"] = _job,
            ["steps"] = Steps,
            ["runner"] = new JsonObject
            {
                ["os"] = runner.Os,
                ["arch"] = runner.Arch,
                ["name"] = runner.Name,
                ["temp"] = runner.Temp,
                ["tool_cache"] = runner.ToolCache,
                ["debug"] = runner.Debug ? "1" : "",
                ["environment"] = "self-hosted",
            },
            ["secrets"] = secrets,
            ["vars"] = context.Vars,
            ["needs"] = context.Needs,
            ["inputs"] = context.Inputs,
            ["strategy"] = spec.Strategy,
            ["matrix"] = spec.Matrix,
        };
    }

    /// <summary><c>steps.&lt;id&gt;</c>: outputs, outcome, conclusion of the steps that ran (or were skipped).</summary>
    public JsonObject Steps { get; } = [];

    /// <summary><c>github.action</c> of the current step: its id, or <c>__run</c>, <c>__run_2</c>...</summary>
    public string Action { get; private set; } = "";

    /// <summary>Where <c>hashFiles</c> searches.</summary>
    public string HostWorkspace { get; }

    /// <summary>Sets <c>github.action</c> and the step file paths GitHub also exposes in the github context.</summary>
    public void EnterStep(string action, IReadOnlyDictionary<string, string>? files)
    {
        Action = action;
        _github["action"] = action;
        foreach (var (variable, key) in new[] { ("GITHUB_ENV", "env"), ("GITHUB_PATH", "path"), ("GITHUB_OUTPUT", "output"), ("GITHUB_STATE", "state"), ("GITHUB_STEP_SUMMARY", "step_summary") })
        {
            if (files is not null && files.TryGetValue(variable, out var path)) _github[key] = path;
            else _github.Remove(key);
        }
    }

    public void SetJobStatus(string status) => _job["status"] = status;

    /// <param name="env">The env in effect for the key; null where the env context is not available.</param>
    public EvaluationContext For(IReadOnlyDictionary<string, string>? env, IExpressionStatus? status = null)
    {
        var contexts = new Dictionary<string, JsonNode?>(_fixed, StringComparer.OrdinalIgnoreCase);
        if (env is not null)
        {
            var node = new JsonObject();
            foreach (var (name, value) in env) node[name] = value;
            contexts["env"] = node;
        }
        return new EvaluationContext(contexts, status, HostWorkspace);
    }
}
