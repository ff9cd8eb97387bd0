using System.Text.Json;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace BuildServer.Modules.Runs;

public sealed record TriggerRequest(ProjectInfo Project, string PipelineYaml, string? Ref, string? Sha, IReadOnlyDictionary<string, string>? Inputs, string TriggeredBy);

/// <summary>Either the new run (as stored at creation) or the pipeline's errors; nothing is stored when there are errors.</summary>
public sealed record TriggerResult(RunView? Run, IReadOnlyList<PipelineError> Errors);

/// <summary>The Runs module's contract for whatever starts runs (the API now; webhooks and cron later).</summary>
public interface IRunTrigger
{
    Task<TriggerResult> TriggerAsync(TriggerRequest request, CancellationToken cancellationToken);
}

internal sealed class TriggerRun(BuildDb db, WriteGate writes, IPipelineParser parser, IDispatchSignal dispatch, TimeProvider time) : IRunTrigger
{
    public async Task<TriggerResult> TriggerAsync(TriggerRequest request, CancellationToken ct)
    {
        var parsed = parser.Parse(request.PipelineYaml);
        if (!parsed.IsValid)
        {
            return new TriggerResult(null, parsed.Errors);
        }
        var run = await CreateAsync(request, parsed.Pipeline!, ct);
        dispatch.Notify();
        return new TriggerResult(run, []);
    }

    /// <summary>One transaction: the run, all its jobs, and the first attempt of each job without needs.</summary>
    private async Task<RunView> CreateAsync(TriggerRequest request, PipelineDefinition pipeline, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var gate = await writes.EnterAsync(ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var number = await NextNumberAsync(request.Project.Id, tx, ct);
        var run = new Run
        {
            ProjectId = request.Project.Id,
            Number = number,
            Name = pipeline.Name ?? request.Project.Name,
            Status = Status.Queued,
            Ref = request.Ref,
            Sha = request.Sha,
            Pipeline = request.PipelineYaml,
            InputsJson = request.Inputs is { Count: > 0 } ? JsonSerializer.Serialize(request.Inputs, JsonDefaults.Options) : null,
            TriggeredBy = request.TriggeredBy,
            CreatedAt = now,
        };
        db.Add(run);
        foreach (var definition in pipeline.Jobs)
        {
            var job = new Job
            {
                Run = run,
                Key = definition.Key,
                Name = definition.Name,
                Status = Status.Pending,
                Needs = [.. definition.Needs],
                RunsOn = [.. definition.RunsOn],
                SpecJson = JsonSerializer.Serialize(ToSpec(pipeline, definition), JsonDefaults.Options),
                CreatedAt = now,
            };
            run.Jobs.Add(job);
            if (definition.Needs.Count == 0)
            {
                AttemptFactory.Queue(db, job, 1, now, "run triggered by " + request.TriggeredBy, request.TriggeredBy);
            }
            else
            {
                job.StatusReason = "waiting for needs: " + string.Join(", ", definition.Needs);
            }
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        db.ChangeTracker.Clear();
        return RunViews.ToView(run);
    }

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
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static JobSpec ToSpec(PipelineDefinition pipeline, JobDefinition job)
    {
        var env = new Dictionary<string, string>(pipeline.Env);
        foreach (var (k, v) in job.Env) env[k] = v;
        return new JobSpec(env, job.Steps.Select(s => new StepSpec(s.Name, s.Run, s.Env)).ToList());
    }
}
