using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Planning;

namespace BuildServer.Modules.Runtime;

/// <summary>What the agent running a job says about itself (the <c>runner</c> context, <c>RUNNER_*</c>).</summary>
internal sealed record RunnerInfo(string Name, string Os, string Arch, string Temp, string ToolCache, bool Debug);

/// <summary>
/// The environment every step starts from, under the workflow's, the job's and the step's env. GITHUB_ACTIONS is
/// true on purpose: tools branch on it to write workflow commands (annotations, groups, masks), and this runtime
/// acts on them; BUILDSERVER=true lets a script tell that it runs here and not on GitHub.
/// </summary>
internal static class DefaultEnvironment
{
    // github context key → the variable GitHub sets from it (GITHUB_ + the key in capitals).
    private static readonly string[] GithubKeys =
    [
        "action_repository", "actor", "actor_id", "api_url", "base_ref", "event_name", "graphql_url", "head_ref",
        "ref", "ref_name", "ref_protected", "ref_type", "repository", "repository_id", "repository_owner",
        "repository_owner_id", "retention_days", "run_attempt", "run_id", "run_number", "server_url", "sha",
        "triggering_actor", "workflow", "workflow_ref", "workflow_sha",
    ];

    // Also as BUILDSERVER_<name>, for scripts written for this server.
    private static readonly (string Key, string Name)[] BuildServerKeys =
    [
        ("run_id", "RUN_ID"), ("run_number", "RUN_NUMBER"), ("run_attempt", "ATTEMPT"), ("sha", "SHA"),
        ("ref", "REF"), ("event_name", "EVENT_NAME"), ("repository", "REPOSITORY"),
    ];

    public static Dictionary<string, string> Create(JobSpec spec, JobContext context, string workspace, string eventPath, RunnerInfo runner)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CI"] = "true",
            ["GITHUB_ACTIONS"] = "true",
            ["BUILDSERVER"] = "true",
            ["GITHUB_WORKSPACE"] = workspace,
            ["GITHUB_EVENT_PATH"] = eventPath,
            ["GITHUB_JOB"] = spec.JobId,
            ["RUNNER_OS"] = runner.Os,
            ["RUNNER_ARCH"] = runner.Arch,
            ["RUNNER_NAME"] = runner.Name,
            ["RUNNER_TEMP"] = runner.Temp,
            ["RUNNER_TOOL_CACHE"] = runner.ToolCache,
            ["BUILDSERVER_WORKSPACE"] = workspace,
            ["BUILDSERVER_JOB"] = spec.JobId,
            ["BUILDSERVER_RUNNER"] = runner.Name,
        };
        if (runner.Debug) env["RUNNER_DEBUG"] = "1";
        foreach (var key in GithubKeys)
        {
            if (Text(context.Github[key]) is { } value) env["GITHUB_" + key.ToUpperInvariant()] = value;
        }
        foreach (var (key, name) in BuildServerKeys)
        {
            if (Text(context.Github[key]) is { } value) env["BUILDSERVER_" + name] = value;
        }
        if (!string.IsNullOrEmpty(spec.WorkflowName)) env.TryAdd("GITHUB_WORKFLOW", spec.WorkflowName);
        return env;
    }

    /// <summary>GitHub ignores attempts to override its own variables (GITHUB_*, RUNNER_*) through env.</summary>
    public static bool IsProtected(string name) =>
        name.StartsWith("GITHUB_", StringComparison.Ordinal) || name.StartsWith("RUNNER_", StringComparison.Ordinal);

    /// <summary>A scalar's text (strings as they are, numbers and booleans as JSON); null for objects, arrays, null.</summary>
    internal static string? Text(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.String => node.GetValue<string>(),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => node.ToJsonString(),
        _ => null,
    };
}
