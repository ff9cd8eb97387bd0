using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs;

/// <summary>What re-running a whole run did; <paramref name="Trigger"/> is the new run (or why the stored pipeline is
/// refused now) when <paramref name="Outcome"/> is <see cref="RerunOutcome.Rerun"/>.</summary>
internal sealed record RerunRunResult(RerunOutcome Outcome, TriggerResult? Trigger = null);

/// <summary>
/// Re-runs a finished run as a new run of the same project, from what the run stored: its pipeline (not the project's
/// file as it is now), ref, sha, inputs and event. The new run is triggered by "rerun of #N by USER"; its
/// <c>github.actor</c> stays the original's, its <c>github.triggering_actor</c> is the user.
/// </summary>
internal sealed class RerunRun(BuildDb db, IProjectDirectory projects, IRunTrigger trigger)
{
    public async Task<RerunRunResult> RerunAsync(long runId, string user, CancellationToken ct)
    {
        var run = await db.Set<Run>().AsNoTracking().Where(r => r.Id == runId)
            .Select(r => new { r.ProjectId, r.Number, r.Status, r.Pipeline, r.Ref, r.Sha, r.InputsJson, r.ContextJson })
            .FirstOrDefaultAsync(ct);
        if (run is null) return new RerunRunResult(RerunOutcome.NotFound);
        if (!run.Status.IsFinished()) return new RerunRunResult(RerunOutcome.NotFinished);
        var project = await projects.FindAsync(run.ProjectId.ToString(CultureInfo.InvariantCulture), ct);
        if (project is null) return new RerunRunResult(RerunOutcome.NotFound); // its project was deleted since
        var inputs = run.InputsJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(run.InputsJson, JsonDefaults.Options);
        var github = JsonNode.Parse(run.ContextJson)?["github"];
        var eventName = github?["event_name"]?.GetValue<string>() is { Length: > 0 } e ? e : "workflow_dispatch";
        var actor = github?["actor"]?.GetValue<string>() is { Length: > 0 } a ? a : user;
        var by = $"rerun of #{run.Number} by {user}";
        var request = new TriggerRequest(project, run.Pipeline, run.Ref, run.Sha, inputs, by.Length > 200 ? by[..199] + "…" : by, eventName, (actor, user));
        return new RerunRunResult(RerunOutcome.Rerun, await trigger.TriggerAsync(request, ct));
    }
}
