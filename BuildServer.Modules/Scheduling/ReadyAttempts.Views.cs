namespace BuildServer.Modules.Scheduling;

/// <summary>The view's read side: where waiting attempts stand, counts (metrics, the queue API), label groups (the reconciler).</summary>
public sealed partial class ReadyAttempts
{
    /// <summary>Where a waiting attempt stands now; null when it is not waiting here.</summary>
    public QueueStanding? Standing(long attemptId)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Promote(now);
            if (!_entries.TryGetValue(attemptId, out var entry)) return null;
            var lane = _lanes[(int)entry.Lane];
            var position = 1 + lane.Orgs.Values.Sum(o => o.CountBefore(entry));
            var org = _orgs[entry.Item.OrgId];
            return new QueueStanding(entry.Lane, position, lane.Count, entry.Item.OrgId, org.Running.Count, org.Share.MaxRunning, entry.Item.Labels);
        }
    }

    /// <summary>Where each of <paramref name="attemptIds"/> that waits here stands now (the others are left out), in
    /// one pass over the lanes concerned: O(attempts waiting in those lanes + asked × label sets), where asking
    /// <see cref="Standing"/> for each would cost O(asked × attempts waiting).</summary>
    public IReadOnlyDictionary<long, QueueStanding> Standings(IEnumerable<long> attemptIds)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Promote(now);
            var standings = new Dictionary<long, QueueStanding>();
            var asked = attemptIds.Distinct().Select(id => _entries.GetValueOrDefault(id)).OfType<Entry>();
            foreach (var group in asked.GroupBy(e => e.Lane))
            {
                var lane = _lanes[(int)group.Key];
                var targets = group.Order(EntryOrder.Instance).ToArray();
                var before = new int[targets.Length];
                foreach (var orgLane in lane.Orgs.Values) orgLane.CountBefore(targets, before);
                for (var i = 0; i < targets.Length; i++)
                {
                    var item = targets[i].Item;
                    var org = _orgs[item.OrgId];
                    standings[item.AttemptId] = new QueueStanding(group.Key, 1 + before[i], lane.Count, item.OrgId, org.Running.Count, org.Share.MaxRunning, item.Labels);
                }
            }
            return standings;
        }
    }

    /// <summary>The organisation's running count and quota when <paramref name="attemptId"/> waits here and its
    /// organisation is at quota; null otherwise. Cheap (no lane position): for showing such attempts as pending.</summary>
    public OrgLoad? HeldByQuota(long attemptId)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(attemptId, out var entry)) return null;
            var org = _orgs[entry.Item.OrgId];
            return org.AtQuota ? new OrgLoad(entry.Item.OrgId, org.Running.Count, org.Share.MaxRunning) : null;
        }
    }

    /// <summary>The waiting attempts grouped by their runs-on label set, oldest first in each group (the reconciler
    /// checks each label set against the registered agents once, not each attempt).</summary>
    public IReadOnlyList<IReadOnlyList<ReadyItem>> WaitingByLabels()
    {
        lock (_lock)
        {
            return _entries.Values.GroupBy(e => e.LabelKey, StringComparer.Ordinal)
                .Select(g => (IReadOnlyList<ReadyItem>)g.Order(EntryOrder.Instance).Select(e => e.Item).ToList())
                .ToList();
        }
    }

    /// <summary>Waiting attempts per lane and per organisation, and running attempts per organisation (metrics,
    /// the queue page). Organisations with nothing waiting (or running) are left out.</summary>
    public QueueCounts Counts()
    {
        lock (_lock)
        {
            return new QueueCounts(
                Lanes.All.ToDictionary(l => l, l => _lanes[(int)l].Count),
                _entries.Values.CountBy(e => e.Item.OrgId).ToDictionary(),
                _orgs.Where(o => o.Value.Running.Count > 0).ToDictionary(o => o.Key, o => o.Value.Running.Count));
        }
    }
}
