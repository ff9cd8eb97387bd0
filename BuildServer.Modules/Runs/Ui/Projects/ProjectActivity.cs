using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Ui.Projects;

/// <summary>A project as the projects page lists it, with its latest run (null: none yet).</summary>
public sealed record ProjectRow(ProjectInfo Project, RunSummary? LastRun);

/// <summary>One page of a project's runs, newest first, and how many it has in all.</summary>
public sealed record RunPage(IReadOnlyList<RunSummary> Runs, int Total);

/// <summary>
/// The projects pages' reads. They live in the Runs module because they show runs, which the Projects module may not
/// see (Runs depends on Projects); the projects themselves come through <see cref="IProjectDirectory"/>. A project's
/// runs are all of them, also those it made in an organisation it has since moved from.
/// </summary>
internal sealed class ProjectActivity(BuildDb db, IProjectDirectory projects)
{
    /// <summary>The projects of the organisations <paramref name="visible"/> (null: all), by name, each with its latest run.</summary>
    public async Task<IReadOnlyList<ProjectRow>> ProjectsAsync(IReadOnlySet<long>? visible, CancellationToken ct)
    {
        var list = await projects.ListAsync(visible, ct);
        var ids = list.Select(p => p.Id).ToList();
        // A project's latest run is its newest row (one scan of the runs' project index, however many projects).
        var lastIds = await db.Set<Run>().AsNoTracking()
            .Where(r => ids.Contains(r.ProjectId))
            .GroupBy(r => r.ProjectId)
            .Select(g => g.Max(r => r.Id))
            .ToListAsync(ct);
        var last = await Summaries(db.Set<Run>().AsNoTracking().Where(r => lastIds.Contains(r.Id))).ToDictionaryAsync(r => r.ProjectId, ct);
        return list.Select(p => new ProjectRow(p, last.GetValueOrDefault(p.Id))).ToList();
    }

    /// <summary>Page <paramref name="page"/> (from 1) of the project's runs, newest first.</summary>
    public async Task<RunPage> RunsAsync(long projectId, int page, int pageSize, CancellationToken ct)
    {
        var runs = db.Set<Run>().AsNoTracking().Where(r => r.ProjectId == projectId);
        var total = await runs.CountAsync(ct);
        var rows = await Summaries(runs.OrderByDescending(r => r.Number).Skip((Math.Max(page, 1) - 1) * pageSize).Take(pageSize)).ToListAsync(ct);
        return new RunPage(rows, total);
    }

    private static IQueryable<RunSummary> Summaries(IQueryable<Run> runs) => runs.Select(r =>
        new RunSummary(r.Id, r.ProjectId, r.Number, r.Name, r.Status, r.Ref, r.Sha, r.TriggeredBy, r.CreatedAt, r.StartedAt, r.FinishedAt));
}
