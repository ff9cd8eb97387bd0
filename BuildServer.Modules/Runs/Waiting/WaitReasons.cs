using System.Globalization;
using BuildServer.Modules.Persistence;
using BuildServer.Modules.Projects;
using BuildServer.Modules.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace BuildServer.Modules.Runs.Waiting;

/// <summary>The queue listing's filters, already validated.</summary>
/// <param name="Offset">Jobs to pass over first (the web UI's pages).</param>
/// <param name="Orgs">Only jobs of these organisations (those a user may see); null: of every one.</param>
public sealed record QueueFilter(long? OrgId, long? ProjectId, Lane? Lane, int Limit, int Offset = 0, IReadOnlySet<long>? Orgs = null);

/// <summary>
/// Explains why jobs wait, from the tables (needs, matrix slots, concurrency groups, retry backoff) and the
/// scheduler's view (lane position, quota), and the runners (<see cref="IRunnerDirectory"/>). A page of jobs
/// costs a fixed number of queries, one pass over the view's lanes concerned, and one read of the runners.
/// </summary>
internal sealed class WaitReasons(
    BuildDb db, ReadyAttempts ready, IRunnerDirectory runners, IProjectDirectory projects, IOrganizationDirectory orgs)
{
    private static readonly Status[] Finished =
        [Status.Succeeded, Status.Failed, Status.Cancelled, Status.Skipped, Status.TimedOut, Status.Lost];

    public async Task<JobWait?> ForJobAsync(long jobId, CancellationToken ct)
    {
        var rows = await Rows(db.Set<Job>().Where(j => j.Id == jobId)).ToListAsync(ct);
        return rows.Count == 0 ? null : (await ExplainAsync(rows, ct))[0];
    }

    /// <summary>Jobs that wait (pending or queued, or with a retry waiting out its backoff), in the order the lanes are
    /// served: by lane (the job's own; aging is not shown here), queued ones in arrival order, then pending ones.</summary>
    public async Task<IReadOnlyList<JobWait>> QueueAsync(QueueFilter filter, CancellationToken ct)
    {
        var query = Waiting(filter)
            .OrderBy(j => j.Lane == Lane.Critical ? 0 : j.Lane == Lane.High ? 1 : j.Lane == Lane.Normal ? 2 : 3)
            .ThenBy(j => j.Attempts.Any(a => a.Status == Status.Queued) ? 0 : 1)
            .ThenBy(j => j.Attempts.Where(a => a.Status == Status.Queued).Min(a => (long?)a.Id))
            .ThenBy(j => j.Id)
            .Skip(filter.Offset)
            .Take(filter.Limit);
        var rows = await Rows(query).ToListAsync(ct);
        return await ExplainAsync(rows, ct);
    }

    /// <summary>How many jobs <see cref="QueueAsync"/> would list with no limit (the web UI's page count).</summary>
    public Task<int> CountAsync(QueueFilter filter, CancellationToken ct) => Waiting(filter).CountAsync(ct);

    private IQueryable<Job> Waiting(QueueFilter filter)
    {
        var query = db.Set<Job>().AsNoTracking()
            .Where(j => j.Run!.Status == Status.Pending || j.Run.Status == Status.Queued || j.Run.Status == Status.Running)
            .Where(j => j.Status == Status.Pending || j.Status == Status.Queued || j.Attempts.Any(a => a.Status == Status.Pending));
        if (filter.OrgId is { } org) query = query.Where(j => j.Run!.OrgId == org);
        if (filter.Orgs is { } orgs) query = query.Where(j => orgs.Contains(j.Run!.OrgId));
        if (filter.ProjectId is { } project) query = query.Where(j => j.Run!.ProjectId == project);
        if (filter.Lane is { } lane) query = query.Where(j => j.Lane == lane);
        return query;
    }

    private static IQueryable<JobRow> Rows(IQueryable<Job> jobs) => jobs.AsNoTracking().Select(j => new JobRow(
        j.Id, j.Key, j.Name, j.Status, j.StatusReason, j.Needs, j.RunsOn, j.Lane, j.MaxParallel, j.TemplateJson == null,
        new RunRow(j.RunId, j.Run!.Number, j.Run.ProjectId, j.Run.OrgId, j.Run.Status, j.Run.ConcurrencyGroup),
        j.Attempts.Where(a => !Finished.Contains(a.Status)).OrderByDescending(a => a.Number)
            .Select(a => new AttemptRow(a.Id, a.Number, a.Status, a.NotBefore)).FirstOrDefault()));

    private async Task<IReadOnlyList<JobWait>> ExplainAsync(IReadOnlyList<JobRow> rows, CancellationToken ct)
    {
        var standings = ready.Standings(rows.Where(r => r.Current?.Status == Status.Queued).Select(r => r.Current!.Id));
        var context = new Context(
            standings,
            rows.Any(r => r.Current?.Status == Status.Queued) ? await runners.ListAsync(ct) : [],
            await SiblingsAsync(rows, ct),
            await HoldersAsync(rows, ct));
        var waits = new List<JobWait>(rows.Count);
        var projectNames = new Dictionary<long, string>();
        var orgNames = new Dictionary<long, string>();
        foreach (var row in rows)
        {
            var org = await NameAsync(orgNames, row.Run.OrgId, async id => (await orgs.FindAsync(Id(id), ct))?.Name);
            var project = await NameAsync(projectNames, row.Run.ProjectId, async id => (await projects.FindAsync(Id(id), ct))?.Name);
            var reason = Explain(row, org, context);
            waits.Add(new JobWait(row.Id, row.Run.Id, row.Run.Number, project, org, row.Key, row.Name, row.Lane, reason.ShownAs(), reason, reason.Describe()));
        }
        return waits;
    }

    private static WaitReason Explain(JobRow row, string org, Context context)
    {
        switch (row.Current)
        {
            case { Status: Status.Running }:
                return new NotWaiting(Status.Running);
            case { Status: Status.Pending, NotBefore: { } until } retry:
                return new RetryBackoffWait(retry.Number, until);
            case { Status: Status.Queued } queued:
                if (!context.Standings.TryGetValue(queued.Id, out var standing)) return new DispatchingWait();
                if (standing.OrgMaxRunning > 0 && standing.OrgRunning >= standing.OrgMaxRunning)
                {
                    return new OrgQuotaWait(org, standing.OrgRunning, standing.OrgMaxRunning);
                }
                var match = context.Runners.Match(row.RunsOn);
                return match.Online == 0
                    ? new NoAgentWait(row.RunsOn, match.Offline)
                    : new LanePositionWait(standing.Lane, standing.Position, standing.InLane);
        }
        if (row.Status != Status.Pending && row.Status != Status.Queued) return new NotWaiting(row.Status);
        if (row.Run is { Status: Status.Pending, ConcurrencyGroup: { } group } run)
        {
            var holder = context.Holders.GetValueOrDefault((run.ProjectId, group));
            return new ConcurrencyWait(group, holder?.Id, holder?.Number);
        }
        var siblings = context.Siblings[row.Run.Id];
        if (!row.Expanded)
        {
            return new NeedsWait(row.Needs.Select(key => new NeedState(key, LeastAdvanced(siblings.Where(s => s.Key == key).Select(s => s.Status)))).ToList());
        }
        if (row.MaxParallel is { } max)
        {
            return new MatrixSlotWait(max, siblings.Count(s => s.Key == row.Key && s.Status is Status.Queued or Status.Running));
        }
        return new OtherWait(row.StatusReason);
    }

    /// <summary>A matrix job's status as its dependents see it: running while any combination runs, then queued,
    /// then pending; finished once all are (then the first one's status).</summary>
    private static Status LeastAdvanced(IEnumerable<Status> statuses)
    {
        var list = statuses.ToList();
        foreach (var status in (Status[])[Status.Running, Status.Queued, Status.Pending])
        {
            if (list.Contains(status)) return status;
        }
        return list.Count > 0 ? list[0] : Status.Pending;
    }

    /// <summary>The keys and statuses of every job of the runs whose pending jobs wait on needs or matrix slots.</summary>
    private async Task<ILookup<long, SiblingRow>> SiblingsAsync(IReadOnlyList<JobRow> rows, CancellationToken ct)
    {
        var runIds = rows.Where(r => r.Current is null && r.Status == Status.Pending).Select(r => r.Run.Id).Distinct().ToList();
        if (runIds.Count == 0) return Array.Empty<SiblingRow>().ToLookup(s => s.RunId);
        var siblings = await db.Set<Job>().AsNoTracking().Where(j => runIds.Contains(j.RunId))
            .Select(j => new SiblingRow(j.RunId, j.Key, j.Status)).ToListAsync(ct);
        return siblings.ToLookup(s => s.RunId);
    }

    /// <summary>Per (project, group) of the runs held back by their concurrency group: the oldest unfinished run of
    /// that project and group that is not itself held (pending).</summary>
    private async Task<Dictionary<(long ProjectId, string Group), RunRef>> HoldersAsync(IReadOnlyList<JobRow> rows, CancellationToken ct)
    {
        var holders = new Dictionary<(long, string), RunRef>();
        var groups = rows.Where(r => r.Current is null && r.Run is { Status: Status.Pending, ConcurrencyGroup: not null })
            .Select(r => (r.Run.ProjectId, Group: r.Run.ConcurrencyGroup!)).Distinct();
        foreach (var (projectId, group) in groups)
        {
            var holder = await db.Set<Run>().AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.ConcurrencyGroup == group && (r.Status == Status.Queued || r.Status == Status.Running))
                .OrderBy(r => r.Id).Select(r => new RunRef(r.Id, r.Number)).FirstOrDefaultAsync(ct);
            if (holder is not null) holders[(projectId, group)] = holder;
        }
        return holders;
    }

    private static async Task<string> NameAsync(Dictionary<long, string> names, long id, Func<long, Task<string?>> find)
    {
        if (!names.TryGetValue(id, out var name)) names[id] = name = await find(id) ?? Id(id);
        return name;
    }

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    private sealed record Context(
        IReadOnlyDictionary<long, QueueStanding> Standings, IReadOnlyList<RunnerInfo> Runners,
        ILookup<long, SiblingRow> Siblings, Dictionary<(long ProjectId, string Group), RunRef> Holders);

    private sealed record JobRow(
        long Id, string Key, string Name, Status Status, string? StatusReason, List<string> Needs, List<string> RunsOn, Lane Lane,
        int? MaxParallel, bool Expanded, RunRow Run, AttemptRow? Current);

    private sealed record RunRow(long Id, long Number, long ProjectId, long OrgId, Status Status, string? ConcurrencyGroup);

    private sealed record AttemptRow(long Id, int Number, Status Status, DateTimeOffset? NotBefore);

    private sealed record SiblingRow(long RunId, string Key, Status Status);

    private sealed record RunRef(long Id, long Number);
}
