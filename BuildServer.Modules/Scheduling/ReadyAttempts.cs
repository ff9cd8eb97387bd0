using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Scheduling;

/// <summary>An attempt that is ready to run and waits for an agent: what the scheduler needs to place it.</summary>
/// <param name="JobId">Its job and <paramref name="RunId"/> run: carried for the claimer, not used to decide.</param>
/// <param name="Timeout">The job's timeout, counted from the claim (carried for the claimer).</param>
public sealed record ReadyItem(long AttemptId, long OrgId, Lane Lane, IReadOnlyList<string> Labels, DateTimeOffset QueuedAt, long JobId = 0, long RunId = 0, TimeSpan? Timeout = null);

/// <summary>An organisation's share of the agents: at most <paramref name="MaxRunning"/> attempts at once
/// (0 = no limit), and its <paramref name="Weight"/> when organisations compete for the same agents.</summary>
public sealed record OrgShare(int MaxRunning, double Weight)
{
    public static readonly OrgShare Default = new(0, 1);
}

/// <summary>An organisation's running attempts against its quota (<paramref name="MaxRunning"/> 0 = no limit).</summary>
public sealed record OrgLoad(long OrgId, int Running, int MaxRunning);

/// <summary>How much waits, per lane and per organisation, and how much runs per organisation, at one moment.</summary>
public sealed record QueueCounts(
    IReadOnlyDictionary<Lane, int> WaitingPerLane, IReadOnlyDictionary<long, int> WaitingPerOrg, IReadOnlyDictionary<long, int> RunningPerOrg);

/// <summary>Where a waiting attempt stands, for "why is this job waiting".</summary>
public sealed record QueueStanding(
    Lane Lane, int Position, int InLane, long OrgId, int OrgRunning, int OrgMaxRunning, IReadOnlyList<string> Labels);

/// <summary>
/// The scheduler's view of the work that is ready and waiting, in memory (the database stays the record: the
/// runs module rebuilds this view from its tables on start, <see cref="Reset"/>). One decision,
/// <see cref="Reserve"/>, picks the attempt an agent with given labels should run next:
/// <list type="number">
/// <item>lanes in order (critical, high, normal, low): a later lane is looked at only when no attempt of an
/// earlier lane can run on this agent; with aging on, an attempt moves up one lane per
/// <see cref="SchedulerOptions.AgingStep"/> it has waited;</item>
/// <item>among organisations under their quota, the one with the lowest running ÷ weight (DRF-style), ties to
/// the oldest waiting attempt;</item>
/// <item>within an organisation and lane, the oldest attempt whose runs-on labels the agent has (FIFO).</item>
/// </list>
/// A reserved attempt counts as running for its organisation until <see cref="Release"/> (the claim did not
/// happen) or <see cref="Finished"/>. Thread-safe: one lock; a decision costs O(organisations waiting in the
/// lanes looked at × distinct label sets per organisation), never the number of waiting attempts.
/// </summary>
public sealed partial class ReadyAttempts(IOptions<SchedulerOptions> options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Entry> _entries = [];
    private readonly Dictionary<long, OrgState> _orgs = [];
    private readonly LaneState[] _lanes = [new(), new(), new(), new()];
    private readonly Dictionary<(string Need, string Have), bool> _labelMatches = [];
    private readonly Dictionary<string, string[]> _labelKeys = [];
    private readonly Dictionary<long, ReadyItem> _inFlight = []; // reserved, neither claimed nor released yet
    private List<Action>? _journal; // changes made while a snapshot is being read (see BeginSnapshot)

    private TimeSpan? AgingStep => options.Value.AgingStep is { } step && step > TimeSpan.Zero ? step : null;

    /// <summary>Number of attempts waiting.</summary>
    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    /// <summary>Call before reading the snapshot for <see cref="Reset"/>: changes made from now on are kept and
    /// applied again on top of the snapshot, so that nothing published while it was read is lost.</summary>
    public void BeginSnapshot()
    {
        lock (_lock) _journal = [];
    }

    /// <summary>The snapshot could not be read: stop keeping changes for it.</summary>
    public void AbandonSnapshot()
    {
        lock (_lock) _journal = null;
    }

    /// <summary>Brings the whole view in line with the record: the attempts waiting, the attempts running per
    /// organisation, and the organisations' shares, read after <see cref="BeginSnapshot"/>. Used at start and
    /// periodically. Only the differences are applied under the lock (the view is usually right), so a rebuild
    /// with 100,000 attempts waiting holds up decisions for milliseconds, not for re-inserting them all.</summary>
    public void Reset(IEnumerable<ReadyItem> waiting, IEnumerable<(long OrgId, long AttemptId)> running, IReadOnlyDictionary<long, OrgShare> shares)
    {
        var record = new Dictionary<long, ReadyItem>();
        foreach (var item in waiting) record.TryAdd(item.AttemptId, item);
        var runningNow = running.ToList();
        lock (_lock)
        {
            foreach (var org in _orgs.Values)
            {
                org.Share = OrgShare.Default;
                org.Running.Clear();
            }
            foreach (var (orgId, share) in shares) Org(orgId).Share = share;
            foreach (var (orgId, attemptId) in runningNow) Org(orgId).Running.Add(attemptId);
            // Reservations being claimed right now keep counting (the record may not show their claim yet).
            foreach (var item in _inFlight.Values) Org(item.OrgId).Running.Add(item.AttemptId);
            foreach (var id in _entries.Keys.Where(id => !record.ContainsKey(id)).ToList()) RemoveLocked(id);
            foreach (var item in record.Values)
            {
                if (!_entries.ContainsKey(item.AttemptId)) AddLocked(item);
            }
            // What changed while the record was read is applied again on top of it.
            var journal = _journal ?? [];
            _journal = null;
            foreach (var change in journal) change();
        }
    }

    private void Journal(Action change) => _journal?.Add(change);

    public void SetShare(long orgId, OrgShare share)
    {
        lock (_lock)
        {
            Org(orgId).Share = share;
            Journal(() => Org(orgId).Share = share);
        }
    }

    /// <summary>Adds a ready attempt (again: no-op).</summary>
    public void Add(ReadyItem item)
    {
        lock (_lock)
        {
            AddLocked(item);
            Journal(() => AddLocked(item));
        }
    }

    /// <summary>Forgets a waiting attempt (cancelled, or found claimed elsewhere); no-op when unknown.</summary>
    public void Remove(long attemptId)
    {
        lock (_lock)
        {
            RemoveLocked(attemptId);
            Journal(() => RemoveLocked(attemptId));
        }
    }

    /// <summary>Picks the attempt an agent with <paramref name="agentLabels"/> should run now, takes it out of the
    /// queue and counts it as running for its organisation; null when none can run there. An organisation's own agent
    /// (<paramref name="onlyOrg"/>) takes only that organisation's work.</summary>
    public ReadyItem? Reserve(IReadOnlySet<string> agentLabels, long? onlyOrg = null)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            Promote(now);
            var have = LabelKey(agentLabels.Order(StringComparer.Ordinal));
            foreach (var lane in _lanes)
            {
                Entry? best = null;
                var bestRatio = double.MaxValue;
                foreach (var (orgId, orgLane) in lane.Orgs)
                {
                    if (onlyOrg is { } only && orgId != only) continue;
                    var org = _orgs[orgId];
                    if (org.AtQuota) continue;
                    var head = orgLane.OldestRunnableOn(have, this);
                    if (head is null) continue;
                    var ratio = org.Running.Count / org.Share.Weight;
                    if (best is null || ratio < bestRatio || (ratio == bestRatio && Before(head, best)))
                    {
                        best = head;
                        bestRatio = ratio;
                    }
                }
                if (best is not null)
                {
                    _entries.Remove(best.Item.AttemptId);
                    Unlink(best);
                    var reserved = best.Item.AttemptId;
                    Journal(() => RemoveLocked(reserved)); // the snapshot may still show it queued
                    _orgs[best.Item.OrgId].Running.Add(best.Item.AttemptId);
                    _inFlight[best.Item.AttemptId] = best.Item;
                    return best.Item;
                }
            }
            return null;
        }
    }

    /// <summary>A reserved attempt was not claimed after all (cancelled meanwhile, or claimed by another server):
    /// it no longer counts as running.</summary>
    public void Release(ReadyItem item)
    {
        lock (_lock)
        {
            _inFlight.Remove(item.AttemptId);
            if (_orgs.TryGetValue(item.OrgId, out var org)) org.Running.Remove(item.AttemptId);
            Journal(() => Org(item.OrgId).Running.Remove(item.AttemptId));
        }
    }

    /// <summary>A reserved attempt was claimed: it runs, and counts until <see cref="Finished"/>.</summary>
    public void Claimed(ReadyItem item)
    {
        lock (_lock) _inFlight.Remove(item.AttemptId);
    }

    /// <summary>A running attempt of <paramref name="orgId"/> ended (idempotent).</summary>
    public void Finished(long orgId, long attemptId)
    {
        lock (_lock)
        {
            if (_orgs.TryGetValue(orgId, out var org)) org.Running.Remove(attemptId);
            Journal(() => Org(orgId).Running.Remove(attemptId));
        }
    }

    /// <summary>An attempt claimed without a reservation (another server, a rebuild) runs for <paramref name="orgId"/>.</summary>
    public void Running(long orgId, long attemptId)
    {
        lock (_lock)
        {
            Org(orgId).Running.Add(attemptId);
            Journal(() => Org(orgId).Running.Add(attemptId));
        }
    }

    private void RemoveLocked(long attemptId)
    {
        if (_entries.Remove(attemptId, out var entry)) Unlink(entry);
    }

    private void AddLocked(ReadyItem item)
    {
        if (_entries.ContainsKey(item.AttemptId) || _inFlight.ContainsKey(item.AttemptId)) return;
        if (_orgs.TryGetValue(item.OrgId, out var known) && known.Running.Contains(item.AttemptId)) return; // reserved or running already
        var entry = new Entry(item, LabelKey(item.Labels.Distinct().Order(StringComparer.Ordinal)));
        _entries[item.AttemptId] = entry;
        Org(item.OrgId);
        Link(entry, item.Lane);
    }

    /// <summary>Moves attempts that have waited long enough up a lane (aging), oldest promotion first.</summary>
    private void Promote(DateTimeOffset now)
    {
        if (AgingStep is null) return;
        for (var k = 1; k < _lanes.Length; k++)
        {
            var due = _lanes[k].Aging;
            while (due.Count > 0 && due.Min!.PromoteAt <= now)
            {
                var entry = due.Min;
                Unlink(entry);
                Link(entry, entry.Lane - 1);
            }
        }
    }

    private void Link(Entry entry, Lane lane)
    {
        entry.Lane = lane;
        var state = _lanes[(int)lane];
        if (!state.Orgs.TryGetValue(entry.Item.OrgId, out var orgLane))
        {
            state.Orgs[entry.Item.OrgId] = orgLane = new OrgLane();
        }
        orgLane.Add(entry);
        state.Count++;
        if (lane > Lane.Critical && AgingStep is { } step)
        {
            // Its next promotion: one step per lane above its own, counted from when it was queued.
            entry.PromoteAt = entry.Item.QueuedAt + step * ((int)entry.Item.Lane - (int)lane + 1);
            state.Aging.Add(entry);
        }
    }

    private void Unlink(Entry entry)
    {
        var state = _lanes[(int)entry.Lane];
        if (state.Orgs.TryGetValue(entry.Item.OrgId, out var orgLane) && orgLane.Remove(entry))
        {
            state.Count--;
            if (orgLane.IsEmpty) state.Orgs.Remove(entry.Item.OrgId);
        }
        state.Aging.Remove(entry);
    }

    private OrgState Org(long orgId)
    {
        if (!_orgs.TryGetValue(orgId, out var org)) _orgs[orgId] = org = new OrgState();
        return org;
    }

    private string LabelKey(IEnumerable<string> sortedLabels)
    {
        var labels = sortedLabels.ToArray();
        var key = string.Join('\n', labels);
        _labelKeys.TryAdd(key, labels);
        return key;
    }

    /// <summary>Whether an agent with the label set <paramref name="have"/> has all of <paramref name="need"/>; cached per pair.</summary>
    private bool Matches(string need, string have)
    {
        if (_labelMatches.TryGetValue((need, have), out var matches)) return matches;
        var haveSet = _labelKeys[have];
        matches = _labelKeys[need].All(label => Array.BinarySearch(haveSet, label, StringComparer.Ordinal) >= 0);
        if (_labelMatches.Count > 100_000) _labelMatches.Clear(); // bounded: label sets are few in practice
        _labelMatches[(need, have)] = matches;
        return matches;
    }

    private static bool Before(Entry a, Entry b) => EntryOrder.Instance.Compare(a, b) < 0;
}
