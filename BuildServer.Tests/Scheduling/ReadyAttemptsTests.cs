using BuildServer.Modules.Scheduling;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BuildServer.Tests.Scheduling;

public sealed class ReadyAttemptsTests
{
    private static readonly IReadOnlySet<string> Linux = new HashSet<string> { "self-hosted", "linux" };
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private long _nextId;

    private ReadyAttempts Queue(TimeSpan? aging = null) =>
        new(Options.Create(new SchedulerOptions { AgingStep = aging }), _time);

    private ReadyItem Item(long org, Lane lane, params string[] labels)
    {
        var item = new ReadyItem(++_nextId, org, lane, labels.Length == 0 ? ["self-hosted"] : labels, _time.GetUtcNow());
        _time.Advance(TimeSpan.FromMilliseconds(1));
        return item;
    }

    [Test]
    public void Reserve_PrefersEarlierLanes_ThenFifo()
    {
        var queue = Queue();
        var low = Item(1, Lane.Low);
        var normal1 = Item(1, Lane.Normal);
        var normal2 = Item(1, Lane.Normal);
        var critical = Item(1, Lane.Critical);
        foreach (var item in new[] { low, normal1, normal2, critical }) queue.Add(item);

        var order = Enumerable.Range(0, 5).Select(_ => queue.Reserve(Linux)?.AttemptId).ToList();

        Assert.That(order, Is.EqualTo(new long?[] { critical.AttemptId, normal1.AttemptId, normal2.AttemptId, low.AttemptId, null }));
    }

    [Test]
    public void Reserve_SkipsWhatTheAgentCannotRun_WithoutBlockingTheRest()
    {
        var queue = Queue();
        var gpu = Item(1, Lane.Critical, "gpu");
        var plain = Item(1, Lane.Low);
        queue.Add(gpu);
        queue.Add(plain);

        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(plain.AttemptId), "a later lane runs when the earlier one has nothing for this agent");
        Assert.That(queue.Reserve(Linux), Is.Null);
        Assert.That(queue.Reserve(new HashSet<string> { "gpu", "linux" })?.AttemptId, Is.EqualTo(gpu.AttemptId));
    }

    [Test]
    public void Reserve_OrgAtQuota_WaitsUntilOneOfItsAttemptsFinishes()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(MaxRunning: 1, Weight: 1));
        var first = Item(1, Lane.Normal);
        var second = Item(1, Lane.Normal);
        var other = Item(2, Lane.Low);
        foreach (var item in new[] { first, second, other }) queue.Add(item);

        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(first.AttemptId));
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(other.AttemptId), "org 1 is at quota: the capacity goes to org 2, even in a later lane");
        Assert.That(queue.Reserve(Linux), Is.Null);
        Assert.That(queue.Standing(second.AttemptId), Is.EqualTo(new QueueStanding(Lane.Normal, 1, 1, 1, 1, 1, second.Labels)).Using<QueueStanding>(SameStanding));

        queue.Finished(1, first.AttemptId);
        queue.Finished(1, first.AttemptId); // idempotent

        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(second.AttemptId));
    }

    [Test]
    public void Reserve_AmongOrgs_LowestRunningPerWeightGoesFirst()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(0, 1));
        queue.SetShare(2, new OrgShare(0, 3));
        for (var i = 0; i < 10; i++)
        {
            queue.Add(Item(1, Lane.Normal));
            queue.Add(Item(2, Lane.Normal));
        }

        var orgs = Enumerable.Range(0, 8).Select(_ => queue.Reserve(Linux)!.OrgId).ToList();

        // 0/1 vs 0/3 → tie, older first (org 1); then 1/1 vs 0/3 → 2; 1/1 vs 1/3 → 2; 1/1 vs 2/3 → 2; 1/1 = 3/3 → tie: org 1's head is older ...
        Assert.That(orgs.Count(o => o == 2), Is.EqualTo(6), string.Join(",", orgs));
        Assert.That(orgs.Count(o => o == 1), Is.EqualTo(2), string.Join(",", orgs));
    }

    [Test]
    public void Release_GivesTheQuotaBack()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(1, 1));
        var a = Item(1, Lane.Normal);
        var b = Item(1, Lane.Normal);
        queue.Add(a);
        queue.Add(b);

        var reserved = queue.Reserve(Linux)!;
        Assert.That(queue.Reserve(Linux), Is.Null);
        queue.Release(reserved); // the claim failed: cancelled meanwhile

        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(b.AttemptId));
    }

    [Test]
    public void Aging_MovesALowAttemptUpOneLanePerStep()
    {
        var queue = Queue(aging: TimeSpan.FromMinutes(5));
        var low = Item(1, Lane.Low);
        queue.Add(low);
        _time.Advance(TimeSpan.FromMinutes(4));

        Assert.That(queue.Standing(low.AttemptId)!.Lane, Is.EqualTo(Lane.Low));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(queue.Standing(low.AttemptId)!.Lane, Is.EqualTo(Lane.Normal), "after one step");
        _time.Advance(TimeSpan.FromMinutes(4));
        var high = Item(1, Lane.High);
        queue.Add(high);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.That(queue.Standing(low.AttemptId)!.Lane, Is.EqualTo(Lane.High), "after two steps");
        Assert.That(queue.Standing(high.AttemptId)!.Lane, Is.EqualTo(Lane.High), "queued a minute ago");
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(low.AttemptId), "in the high lane it is the older");
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(high.AttemptId));
    }

    [Test]
    public void Aging_Off_LowWaitsBehindEveryHigherLane()
    {
        var queue = Queue();
        var low = Item(1, Lane.Low);
        queue.Add(low);
        _time.Advance(TimeSpan.FromDays(1));
        queue.Add(Item(1, Lane.Normal));

        Assert.That(queue.Reserve(Linux)!.Lane, Is.EqualTo(Lane.Normal));
        Assert.That(queue.Standing(low.AttemptId)!.Lane, Is.EqualTo(Lane.Low));
    }

    [Test]
    public void Reset_RebuildsTheViewFromTheRecord()
    {
        var queue = Queue();
        queue.Add(Item(9, Lane.Critical));
        var waiting = new[] { Item(1, Lane.Normal), Item(1, Lane.Normal) };

        queue.Reset(waiting, [(1, 100)], new Dictionary<long, OrgShare> { [1] = new(2, 1) });

        Assert.That(queue.Count, Is.EqualTo(2));
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(waiting[0].AttemptId));
        Assert.That(queue.Reserve(Linux), Is.Null, "attempt 100 runs: the org is at its quota of 2");
    }

    [Test]
    public void Reset_TakesSharesAndRunningFromTheRecord_AndKeepsTheAttemptsThatStillWait()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(1, 1));
        queue.Running(1, 100);
        var stays = Item(1, Lane.Normal);
        var gone = Item(1, Lane.Normal);
        queue.Add(stays);
        queue.Add(gone);
        Assert.That(queue.Reserve(Linux), Is.Null, "at its quota of 1");

        queue.Reset([stays, Item(1, Lane.Low)], [], new Dictionary<long, OrgShare>()); // quota lifted, 100 finished, 'gone' cancelled

        Assert.That(queue.Count, Is.EqualTo(2));
        Assert.That(queue.Standing(gone.AttemptId), Is.Null);
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(stays.AttemptId), "no quota now, and nothing running");
    }

    [Test]
    public void Reset_KeepsWhatChangedWhileTheSnapshotWasRead()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(1, 1));
        var old = Item(1, Lane.Normal);
        queue.Add(old);

        queue.BeginSnapshot();
        var snapshotWaiting = new[] { old };               // read from the tables ...
        var published = Item(2, Lane.Normal);
        queue.Add(published);                               // ... while a trigger committed and published
        var reserved = queue.Reserve(Linux)!;               // ... and a slot reserved the old one
        queue.Reset(snapshotWaiting, [], new Dictionary<long, OrgShare> { [1] = new(1, 1) });

        Assert.That(reserved.AttemptId, Is.EqualTo(old.AttemptId));
        Assert.That(queue.Count, Is.EqualTo(1), "the published one is kept; the reserved one is not waiting again");
        Assert.That(queue.Reserve(Linux)?.AttemptId, Is.EqualTo(published.AttemptId));
        queue.Claimed(reserved);
        queue.Add(Item(1, Lane.Normal));
        Assert.That(queue.Reserve(Linux), Is.Null, "org 1's reservation still counts against its quota of 1");
    }

    [Test]
    public void Remove_ForgetsAWaitingAttempt()
    {
        var queue = Queue();
        var a = Item(1, Lane.Normal);
        queue.Add(a);
        queue.Add(a); // again: no-op

        queue.Remove(a.AttemptId);

        Assert.That(queue.Count, Is.Zero);
        Assert.That(queue.Reserve(Linux), Is.Null);
        Assert.That(queue.Standing(a.AttemptId), Is.Null);
    }

    [Test]
    public void FairShare_WeightsOneTwoThree_SlotTimeWithinFivePercentOfTheWeights()
    {
        // Six slots, three saturating orgs with weights 1:2:3, jobs of random length; over a simulated two
        // minutes each org's share of slot-time is compared with its weight's share.
        var queue = Queue();
        var random = new Random(42);
        var weights = new Dictionary<long, double> { [1] = 1, [2] = 2, [3] = 3 };
        foreach (var (org, weight) in weights) queue.SetShare(org, new OrgShare(0, weight));
        foreach (var org in weights.Keys)
        {
            for (var i = 0; i < 2000; i++) queue.Add(Item(org, Lane.Normal));
        }
        var slotEnds = new (DateTimeOffset End, ReadyItem? Item)[6];
        var slotTime = weights.Keys.ToDictionary(o => o, _ => 0.0);
        var end = _time.GetUtcNow() + TimeSpan.FromMinutes(2);
        while (_time.GetUtcNow() < end)
        {
            for (var s = 0; s < slotEnds.Length; s++)
            {
                if (slotEnds[s].End > _time.GetUtcNow()) continue;
                if (slotEnds[s].Item is { } done) queue.Finished(done.OrgId, done.AttemptId);
                var next = queue.Reserve(Linux)!;
                var length = TimeSpan.FromMilliseconds(random.Next(200, 3000));
                slotEnds[s] = (_time.GetUtcNow() + length, next);
                slotTime[next.OrgId] += Math.Min(length.TotalSeconds, (end - _time.GetUtcNow()).TotalSeconds);
            }
            _time.Advance(TimeSpan.FromMilliseconds(50));
        }

        var total = slotTime.Values.Sum();
        Assert.Multiple(() =>
        {
            foreach (var (org, weight) in weights)
            {
                var share = slotTime[org] / total;
                Assert.That(share, Is.EqualTo(weight / 6).Within(0.05), $"org {org}: {share:P1} of slot-time");
            }
        });
    }

    private static bool SameStanding(QueueStanding a, QueueStanding b) =>
        a.Lane == b.Lane && a.Position == b.Position && a.InLane == b.InLane && a.OrgId == b.OrgId
        && a.OrgRunning == b.OrgRunning && a.OrgMaxRunning == b.OrgMaxRunning && a.Labels.SequenceEqual(b.Labels);
}
