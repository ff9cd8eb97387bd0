using System.Security.Claims;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Security.Users;
using Microsoft.AspNetCore.Authorization;

namespace BuildServer.Modules.Runs.Ui.Projects;

/// <summary>What the Run form asks for: the inputs the project's pipeline declares (in the order written), or why the
/// pipeline cannot be read (<paramref name="ReadError"/>) or parsed (<paramref name="Errors"/>, with line and column).</summary>
public sealed record RunFormSpec(IReadOnlyList<InputSpec> Inputs, string? ReadError, IReadOnlyList<WorkflowError> Errors);

/// <summary>How a trigger from the form ended: the new run's id, or each field's error (<c>inputs.&lt;name&gt;</c>,
/// <c>ref</c>, <c>sha</c>, <c>pipeline</c>), the pipeline's errors, or a refusal (role, project gone).</summary>
public sealed record FormTrigger(long? RunId, IReadOnlyDictionary<string, string> FieldErrors, IReadOnlyList<WorkflowError> PipelineErrors, string? Refused);

/// <summary>
/// The web UI's Run form on the server: the same steps as <c>POST /api/v1/projects/{project}/runs</c> without a pipeline
/// (the project's file is read now, the inputs are the workflow's rules in <see cref="DispatchInputs"/>), after asking
/// again whether the user may start runs in the project's organisation (members may), whatever the page showed.
/// </summary>
internal sealed class TriggerFromUi(IProjectDirectory projects, IRunTrigger trigger, IWorkflowParser parser, IAuthorizationService authorization)
{
    public async Task<RunFormSpec> FormAsync(ProjectInfo project, CancellationToken ct)
    {
        var (yaml, error) = await ProjectPipeline.ReadAsync(project, ct);
        if (error is not null) return new RunFormSpec([], error, []);
        var parsed = parser.Parse(yaml!);
        return parsed.IsValid
            ? new RunFormSpec([.. DispatchInputs.Declared(parsed.Workflow!).Values], null, [])
            : new RunFormSpec([], null, parsed.Errors);
    }

    public async Task<FormTrigger> TriggerAsync(
        ClaimsPrincipal user, long projectId, string? gitRef, string? sha, IReadOnlyDictionary<string, string> inputs, CancellationToken ct)
    {
        var project = await projects.FindAsync(projectId.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
        if (project is null) return Refusal("The project no longer exists.");
        if (!(await authorization.AuthorizeAsync(user, project.OrgId, OrgPolicies.Member)).Succeeded)
        {
            return Refusal($"Not allowed: starting a run of {project.Name} takes the member role in {project.Organization}.");
        }
        gitRef = string.IsNullOrWhiteSpace(gitRef) ? null : gitRef.Trim();
        sha = string.IsNullOrWhiteSpace(sha) ? null : sha.Trim();
        if (ProjectPipeline.CheckRefAndSha(gitRef, sha) is { } bad) return Fields(new() { [bad.Field] = bad.Message });
        var (yaml, error) = await ProjectPipeline.ReadAsync(project, ct);
        if (error is not null) return Fields(new() { ["pipeline"] = error });
        var result = await trigger.TriggerAsync(new TriggerRequest(project, yaml!, gitRef, sha, inputs, user.Identity?.Name ?? "ui"), ct);
        if (result.InputErrors.Count > 0)
        {
            return Fields(result.InputErrors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => string.Join(" ", g.Select(e => e.Message))));
        }
        return result.Run is { } run
            ? new FormTrigger(run.Id, new Dictionary<string, string>(), [], null)
            : new FormTrigger(null, new Dictionary<string, string>(), result.Errors, null);
    }

    private static FormTrigger Refusal(string why) => new(null, new Dictionary<string, string>(), [], why);

    private static FormTrigger Fields(Dictionary<string, string> errors) => new(null, errors, [], null);
}
