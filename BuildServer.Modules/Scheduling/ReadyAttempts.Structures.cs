namespace BuildServer.Modules.Scheduling;

/// <summary>The view's data structures: entries, their orders, lanes, organisations' lanes and states.</summary>
public sealed partial class ReadyAttempts
{
    private sealed class Entry(ReadyItem item, string labelKey)
    {
        public ReadyItem Item { get; } = item;
        public string LabelKey { get; } = labelKey;
        public Lane Lane { get; set; }
        public DateTimeOffset PromoteAt { get; set; }
    }

    /// <summary>FIFO: queued time, then attempt id.</summary>
    private sealed class EntryOrder : IComparer<Entry>
    {
        public static readonly EntryOrder Instance = new();

        public int Compare(Entry? x, Entry? y)
        {
            var c = x!.Item.QueuedAt.CompareTo(y!.Item.QueuedAt);
            return c != 0 ? c : x.Item.AttemptId.CompareTo(y.Item.AttemptId);
        }
    }

    private sealed class PromotionOrder : IComparer<Entry>
    {
        public static readonly PromotionOrder Instance = new();

        public int Compare(Entry? x, Entry? y)
        {
            var c = x!.PromoteAt.CompareTo(y!.PromoteAt);
            return c != 0 ? c : x.Item.AttemptId.CompareTo(y.Item.AttemptId);
        }
    }

    private sealed class LaneState
    {
        public Dictionary<long, OrgLane> Orgs { get; } = [];
        public SortedSet<Entry> Aging { get; } = new(PromotionOrder.Instance);
        public int Count { get; set; }

        public void Clear()
        {
            Orgs.Clear();
            Aging.Clear();
            Count = 0;
        }
    }

    /// <summary>One organisation's waiting attempts in one lane, FIFO per distinct runs-on label set.</summary>
    private sealed class OrgLane
    {
        private readonly Dictionary<string, SortedSet<Entry>> _byLabels = [];

        public bool IsEmpty => _byLabels.Count == 0;

        public void Add(Entry entry)
        {
            if (!_byLabels.TryGetValue(entry.LabelKey, out var set)) _byLabels[entry.LabelKey] = set = new SortedSet<Entry>(EntryOrder.Instance);
            set.Add(entry);
        }

        public bool Remove(Entry entry)
        {
            if (!_byLabels.TryGetValue(entry.LabelKey, out var set) || !set.Remove(entry)) return false;
            if (set.Count == 0) _byLabels.Remove(entry.LabelKey);
            return true;
        }

        public Entry? OldestRunnableOn(string have, ReadyAttempts queue)
        {
            Entry? oldest = null;
            foreach (var (need, set) in _byLabels)
            {
                if (!queue.Matches(need, have)) continue;
                var head = set.Min!;
                if (oldest is null || Before(head, oldest)) oldest = head;
            }
            return oldest;
        }

        public int CountBefore(Entry entry) => _byLabels.Values.Sum(set => set.Count(e => Before(e, entry)));

        /// <summary>Adds to <paramref name="before"/>[i] how many of this organisation's attempts come before
        /// <paramref name="targets"/>[i] (sorted FIFO), walking each label set once and only up to the last target.</summary>
        public void CountBefore(Entry[] targets, int[] before)
        {
            foreach (var set in _byLabels.Values)
            {
                var t = 0;
                var count = 0;
                foreach (var e in set)
                {
                    while (t < targets.Length && !Before(e, targets[t])) before[t++] += count;
                    if (t == targets.Length) break;
                    count++;
                }
                while (t < targets.Length) before[t++] += count;
            }
        }
    }

    private sealed class OrgState
    {
        public OrgShare Share { get; set; } = OrgShare.Default;
        public HashSet<long> Running { get; } = [];
        public bool AtQuota => Share.MaxRunning > 0 && Running.Count >= Share.MaxRunning;
    }
}
