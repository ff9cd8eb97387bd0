using System.Security.Claims;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace BuildServer.Modules.Runs;

public sealed record TriggerRunRequest(string? Pipeline, string? Ref, string? Sha, Dictionary<string, string>? Inputs);

internal static class RunsEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var projects = endpoints.MapApi("/projects/{project}/runs", "Runs");
        projects.MapPost("/", Trigger).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        projects.MapGet("/", ListForProject);

        var runs = endpoints.MapApi("/runs", "Runs");
        runs.MapGet("/", List);
        runs.MapGet("/{id:long}", Get);
        runs.MapPost("/{id:long}/cancel", Cancel).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        runs.MapPost("/{id:long}/rerun", Rerun).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        runs.MapPost("/{id:long}/rerun-failed", RerunFailed).RequireAuthorization(p => p.RequireRole(Roles.Admin));

        var jobs = endpoints.MapApi("/jobs", "Runs");
        jobs.MapGet("/{id:long}", GetJob);
        jobs.MapGet("/{id:long}/log", LogEndpoints.JobLog);
        jobs.MapPost("/{id:long}/cancel", CancelJob).RequireAuthorization(p => p.RequireRole(Roles.Admin));

        var attempts = endpoints.MapApi("/attempts", "Runs");
        attempts.MapGet("/{id:long}", GetAttempt);
        attempts.MapPost("/{id:long}/cancel", CancelAttempt).RequireAuthorization(p => p.RequireRole(Roles.Admin));
        endpoints.MapApi("/steps", "Runs").MapGet("/{id:long}/log", LogEndpoints.StepLog);
    }

    private static async Task<Results<Created<RunView>, ValidationProblem, ProblemHttpResult>> Trigger(
        string project, TriggerRunRequest request, IProjectDirectory directory, IRunTrigger trigger,
        ClaimsPrincipal user, CancellationToken ct)
    {
        var found = await directory.FindAsync(project, ct);
        if (found is null)
        {
            return Problems.NotFound("Project", project);
        }
        if (ProjectPipeline.CheckRefAndSha(request.Ref, request.Sha) is { } bad) return Problems.Field(bad.Field, bad.Message);
        var yaml = request.Pipeline;
        if (string.IsNullOrWhiteSpace(yaml))
        {
            var (text, error) = await ProjectPipeline.ReadAsync(found, ct);
            if (error is not null) return Problems.Field("pipeline", error);
            yaml = text!;
        }
        var result = await trigger.TriggerAsync(
            new TriggerRequest(found, yaml, request.Ref, request.Sha, request.Inputs, user.Identity?.Name ?? "api"), ct);
        if (result.InputErrors.Count > 0)
        {
            return TypedResults.ValidationProblem(
                result.InputErrors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                detail: result.InputErrors[0].Message,
                title: "Invalid inputs");
        }
        if (result.Run is not { } run)
        {
            return PipelineProblem(result.Errors);
        }
        return TypedResults.Created($"/api/v1/runs/{run.Id}", run);
    }

    internal static ValidationProblem PipelineProblem(IReadOnlyList<WorkflowError> errors) =>
        TypedResults.ValidationProblem(
            new Dictionary<string, string[]> { ["pipeline"] = errors.Select(e => e.ToString()).ToArray() },
            detail: $"The pipeline has {errors.Count} error(s); the first: {errors[0]}",
            title: "Invalid pipeline",
            extensions: new Dictionary<string, object?> { ["pipelineErrors"] = errors });

    private static async Task<Results<Ok<IReadOnlyList<RunSummary>>, ValidationProblem, ProblemHttpResult>> ListForProject(
        string project, IProjectDirectory directory, RunViews views, string? status, long? before, int? limit, CancellationToken ct)
    {
        var found = await directory.FindAsync(project, ct);
        if (found is null) return Problems.NotFound("Project", project);
        return await ListAsync(views, found.Id, status, before, limit, ct);
    }

    private static Task<Results<Ok<IReadOnlyList<RunSummary>>, ValidationProblem, ProblemHttpResult>> List(
        RunViews views, string? status, long? before, int? limit, CancellationToken ct) => ListAsync(views, null, status, before, limit, ct);

    private static async Task<Results<Ok<IReadOnlyList<RunSummary>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        RunViews views, long? projectId, string? status, long? before, int? limit, CancellationToken ct)
    {
        Status? filter = null;
        if (status is not null)
        {
            if (!StatusExtensions.TryFromWire(status, out var parsed))
            {
                return Problems.Field("status", $"Unknown status '{status}'; the statuses are: {StatusExtensions.WireWords}.");
            }
            filter = parsed;
        }
        if (limit is < 1 or > 500) return Problems.Field("limit", "The limit must be between 1 and 500.");
        return TypedResults.Ok(await views.RunsAsync(projectId, filter, before, limit ?? 50, ct));
    }

    private static async Task<Results<Ok<RunView>, ProblemHttpResult>> Get(long id, RunViews views, CancellationToken ct) =>
        await views.RunAsync(id, ct) is { } run ? TypedResults.Ok(run) : Problems.NotFound("Run", id);

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetJob(long id, RunViews views, CancellationToken ct) =>
        await views.JobAsync(id, ct) is { } job ? TypedResults.Ok(job) : Problems.NotFound("Job", id);

    private static async Task<Results<Ok<AttemptView>, ProblemHttpResult>> GetAttempt(long id, RunViews views, CancellationToken ct) =>
        await views.AttemptAsync(id, ct) is { } attempt ? TypedResults.Ok(attempt) : Problems.NotFound("Attempt", id);

    private static string Actor(ClaimsPrincipal user) => "user:" + (user.Identity?.Name ?? "api");

    private static async Task<Results<Ok<RunView>, ProblemHttpResult>> Cancel(
        long id, CancelRun cancel, RunViews views, ClaimsPrincipal user, CancellationToken ct) =>
        await CancelResultAsync("Run", id, await cancel.CancelAsync(id, Actor(user), ct), () => views.RunAsync(id, ct));

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> CancelJob(
        long id, CancelRun cancel, RunViews views, ClaimsPrincipal user, CancellationToken ct) =>
        await CancelResultAsync("Job", id, await cancel.CancelJobAsync(id, Actor(user), ct), () => views.JobAsync(id, ct));

    private static async Task<Results<Ok<AttemptView>, ProblemHttpResult>> CancelAttempt(
        long id, CancelRun cancel, RunViews views, ClaimsPrincipal user, CancellationToken ct) =>
        await CancelResultAsync("Attempt", id, await cancel.CancelAttemptAsync(id, Actor(user), ct), () => views.AttemptAsync(id, ct));

    /// <summary>201 with the new run; 404 for an unknown run, 409 while it runs, 400 if its stored pipeline is refused now.</summary>
    private static async Task<Results<Created<RunView>, ValidationProblem, ProblemHttpResult>> Rerun(
        long id, RerunRun rerun, ClaimsPrincipal user, CancellationToken ct)
    {
        var result = await rerun.RerunAsync(id, user.Identity?.Name ?? "api", ct);
        return result switch
        {
            { Outcome: RerunOutcome.NotFound } => Problems.NotFound("Run", id),
            { Outcome: RerunOutcome.NotFinished } => Problems.Conflict($"Run {id} has not finished; cancel it first, or wait."),
            { Trigger.Run: { } run } => TypedResults.Created($"/api/v1/runs/{run.Id}", run),
            { Trigger.InputErrors: [var first, ..] } => Problems.Field(first.Field, first.Message),
            _ => PipelineProblem(result.Trigger!.Errors),
        };
    }

    /// <summary>200 with the run; 404 for an unknown run, 409 while it runs or when no job of it failed.</summary>
    private static async Task<Results<Ok<RunView>, ProblemHttpResult>> RerunFailed(
        long id, RerunFailedJobs rerun, RunViews views, ClaimsPrincipal user, CancellationToken ct) =>
        await rerun.RerunAsync(id, user.Identity?.Name ?? "api", ct) switch
        {
            RerunOutcome.NotFound => Problems.NotFound("Run", id),
            RerunOutcome.NotFinished => Problems.Conflict($"Run {id} has not finished; its failed jobs can be re-run once it has."),
            RerunOutcome.NothingFailed => Problems.Conflict($"Run {id} has no failed, timed-out or cancelled job to re-run."),
            _ => TypedResults.Ok((await views.RunAsync(id, ct))!),
        };

    /// <summary>404 for an unknown id, 409 for what has finished (nothing changed), else 200 with the view as it is now.</summary>
    private static async Task<Results<Ok<T>, ProblemHttpResult>> CancelResultAsync<T>(string what, long id, CancelOutcome outcome, Func<Task<T?>> view)
        where T : class => outcome switch
        {
            CancelOutcome.NotFound => Problems.NotFound(what, id),
            CancelOutcome.AlreadyFinished => Problems.Conflict($"{what} {id} has already finished; there is nothing to cancel."),
            _ => TypedResults.Ok((await view())!),
        };
}
