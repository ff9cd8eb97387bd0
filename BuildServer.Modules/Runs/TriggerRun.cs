using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Runs.Waiting;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace BuildServer.Modules.Runs;

/// <param name="EventName">The <c>github.event_name</c> of the run: <c>workflow_dispatch</c> for a run started by hand or the API.</param>
/// <param name="Actor">The <c>github.actor</c> and <c>github.triggering_actor</c> when they are not <paramref name="TriggeredBy"/>
/// (a re-run keeps its original's actor, and its triggering actor is who asked for it).</param>
public sealed record TriggerRequest(
    ProjectInfo Project,
    string PipelineYaml,
    string? Ref,
    string? Sha,
    IReadOnlyDictionary<string, string>? Inputs,
    string TriggeredBy,
    string EventName = "workflow_dispatch",
    (string Actor, string TriggeringActor)? Actor = null);

/// <summary>Either the new run (as stored at creation), or why not: the pipeline's errors (with line:column) or
/// the inputs refused. Nothing is stored when there are errors.</summary>
public sealed record TriggerResult(RunView? Run, IReadOnlyList<WorkflowError> Errors, IReadOnlyList<InputError> InputErrors);

/// <summary>The Runs module's contract for whatever starts runs (the API now; webhooks and cron later).</summary>
public interface IRunTrigger
{
    Task<TriggerResult> TriggerAsync(TriggerRequest request, CancellationToken cancellationToken);
}

internal sealed class TriggerRun(BuildDb db, WriteGate writes, IWorkflowParser parser, IDispatchSignal dispatch, ReadyAttempts ready, CancelRun cancel, TimeProvider time) : IRunTrigger
{
    public async Task<TriggerResult> TriggerAsync(TriggerRequest request, CancellationToken ct)
    {
        var parsed = parser.Parse(request.PipelineYaml);
        if (!parsed.IsValid)
        {
            return new TriggerResult(null, parsed.Errors, []);
        }
        var (inputs, inputErrors) = DispatchInputs.Resolve(parsed.Workflow!, request.Inputs);
        if (inputErrors.Count > 0)
        {
            return new TriggerResult(null, [], inputErrors);
        }
        var created = await CreateAsync(request, parsed.Workflow!, inputs, ct);
        if (created.Error is { } error)
        {
            return new TriggerResult(null, [error], []);
        }
        if (created.Queued > 0)
        {
            dispatch.Notify();
        }
        foreach (var other in created.Supersedes)
        {
            await cancel.CancelAsync(other, "server", ct, created.SupersedeReason);
        }
        return new TriggerResult(created.Run, [], []);
    }

    private sealed record Created(RunView? Run, int Queued, IReadOnlyList<long> Supersedes, string? SupersedeReason, WorkflowError? Error);

    /// <summary>One transaction: the run, one row per workflow job, and (for jobs without needs) their
    /// expansion and first attempts. Jobs with needs wait, unexpanded, as <c>pending</c>.</summary>
    private async Task<Created> CreateAsync(TriggerRequest request, Pipelines.Workflow.Workflow workflow, JsonObject inputs, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var gate = await writes.EnterAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var number = await NextNumberAsync(request.Project.Id, tx, ct);
        var run = new Run
        {
            ProjectId = request.Project.Id,
            OrgId = request.Project.OrgId,
            Number = number,
            Name = Truncate(workflow.Name ?? request.Project.Name, 200),
            Status = Status.Queued,
            Ref = request.Ref,
            Sha = request.Sha,
            Pipeline = request.PipelineYaml,
            InputsJson = request.Inputs is { Count: > 0 } ? JsonSerializer.Serialize(request.Inputs, JsonDefaults.Options) : null,
            TriggeredBy = request.TriggeredBy,
            CreatedAt = now,
        };
        db.Add(run);
        await db.SaveChangesAsync(ct); // the run's id is github.run_id
        var context = new RunContext(Github(request, workflow, run), inputs, []);
        run.ContextJson = JsonSerializer.Serialize(context, JsonDefaults.Options);
        var concurrency = Planner.Concurrency(workflow.Concurrency, context);
        if (concurrency.Error is { } error)
        {
            return new Created(null, 0, [], null, error); // disposing the transaction rolls the run back
        }
        var (holder, supersedes) = await JoinGroupAsync(run, request.Project.Id, concurrency, ct);
        foreach (var template in Planner.Templates(workflow))
        {
            run.Jobs.Add(new Job
            {
                Run = run,
                RunId = run.Id,
                Key = template.Job.Id,
                Name = Truncate(template.Job.Name?.Text ?? template.Job.Id, 200),
                Status = Status.Pending,
                Needs = [.. template.Job.Needs],
                Lane = LaneOf(template, request.Project),
                TemplateJson = JsonSerializer.Serialize(template, JsonDefaults.Options),
                StatusReason = template.Job.Needs.Count > 0 ? "waiting for needs: " + string.Join(", ", template.Job.Needs)
                    : holder is not null ? ConcurrencyGroups.HeldReason(run.ConcurrencyGroup!, holder.Number) : null,
                CreatedAt = now,
            });
        }
        var progress = await RunProgress.AdvanceAsync(db, run, now, request.TriggeredBy, ct);
        await db.SaveChangesAsync(ct);
        await RunChangeNotice.SendAsync(db, run.Id, ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        SchedulerFeed.Publish(ready, run);
        var why = concurrency.CancelInProgress
            ? $"cancelled in progress by run #{run.Number} (concurrency group '{run.ConcurrencyGroup}')"
            : $"superseded by run #{run.Number} (concurrency group '{run.ConcurrencyGroup}')";
        return new Created(QuotaWaits.Show(RunViews.ToView(run), ready, request.Project.Organization), progress.Queued, supersedes, why, null);
    }

    /// <summary>Puts the new run in its concurrency group: held (<c>pending</c>) while another run of the group is in
    /// progress; returns that holder and the runs to cancel once this transaction has committed (the group's held
    /// runs, which this one supersedes, and with cancel-in-progress also the runs in progress).</summary>
    private async Task<(GroupRun? Holder, IReadOnlyList<long> Cancel)> JoinGroupAsync(Run run, long projectId, ConcurrencyResult concurrency, CancellationToken ct)
    {
        if (concurrency.Group is not { } group)
        {
            return (null, []);
        }
        run.ConcurrencyGroup = group;
        await ConcurrencyGroups.LockAsync(db, projectId, group, ct);
        var others = await ConcurrencyGroups.UnfinishedAsync(db, projectId, group, run.Id, ct);
        var holder = others.FirstOrDefault(o => !o.Held);
        if (holder is not null)
        {
            run.Status = Status.Pending;
        }
        var cancel = others.Where(o => o.Held || concurrency.CancelInProgress).Select(o => o.Id).ToList();
        return (holder, cancel);
    }

    /// <summary>The <c>github</c> context of the run (GitHub's key names), as far as a run knows it at creation.</summary>
    private static JsonObject Github(TriggerRequest request, Pipelines.Workflow.Workflow workflow, Run run)
    {
        var inv = CultureInfo.InvariantCulture;
        var reference = request.Ref ?? "";
        var refName = reference.StartsWith("refs/heads/", StringComparison.Ordinal) ? reference["refs/heads/".Length..]
            : reference.StartsWith("refs/tags/", StringComparison.Ordinal) ? reference["refs/tags/".Length..]
            : reference;
        return new JsonObject
        {
            ["event_name"] = request.EventName,
            ["event"] = new JsonObject { ["inputs"] = JsonSerializer.SerializeToNode(request.Inputs ?? new Dictionary<string, string>()) },
            ["ref"] = reference,
            ["ref_name"] = refName,
            ["ref_type"] = reference.StartsWith("refs/tags/", StringComparison.Ordinal) ? "tag" : "branch",
            ["sha"] = request.Sha ?? "",
            ["repository"] = request.Project.Name,
            ["repository_owner"] = request.Project.Organization,
            ["actor"] = request.Actor?.Actor ?? request.TriggeredBy,
            ["triggering_actor"] = request.Actor?.TriggeringActor ?? request.TriggeredBy,
            ["workflow"] = workflow.Name ?? request.Project.Name,
            ["run_id"] = run.Id.ToString(inv),
            ["run_number"] = run.Number.ToString(inv),
            ["run_attempt"] = "1",
            ["server_url"] = "",
            ["api_url"] = "",
            ["retention_days"] = "90",
        };
    }

    /// <summary>The job's priority, else the workflow's, else the project's default lane; capped by the project's highest lane.</summary>
    internal static Lane LaneOf(JobTemplate template, ProjectInfo project)
    {
        Lane? asked = (template.Job.Priority ?? template.WorkflowPriority) switch
        {
            Priority.Critical => Lane.Critical,
            Priority.High => Lane.High,
            Priority.Normal => Lane.Normal,
            Priority.Low => Lane.Low,
            _ => null,
        };
        return (asked ?? project.DefaultLane).AtMost(project.MaxLane);
    }

    private static string Truncate(string text, int length) => text.Length > length ? text[..(length - 1)] + "…" : text;

    /// <summary>Takes the project's next run number atomically: concurrent triggers (or server nodes) never
    /// get the same one; on PostgreSQL they queue on the counter row until the taking transaction ends.</summary>
    private async Task<long> NextNumberAsync(long projectId, IDbContextTransaction tx, CancellationToken ct)
    {
        var connection = db.Database.GetDbConnection();
        await using var command = connection.CreateCommand();
        command.Transaction = tx.GetDbTransaction();
        command.CommandText =
            """
            INSERT INTO run_counters ("ProjectId", "LastNumber") VALUES (@project, 1)
            ON CONFLICT ("ProjectId") DO UPDATE SET "LastNumber" = run_counters."LastNumber" + 1
            RETURNING "LastNumber"
            """;
        var parameter = command.CreateParameter();
        parameter.ParameterName = "project";
        parameter.Value = projectId;
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}
