using BuildServer.Modules.Scheduling;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BuildServer.Tests.Scheduling;

/// <summary>What the wait reasons read from the scheduler's view: positions in bulk, quota holds, counts.</summary>
public sealed class QueueStandingsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    private ReadyAttempts Queue() => new(Options.Create(new SchedulerOptions()), _time);

    [Test]
    public void Standings_InBulk_AgreeWithOneByOne()
    {
        var queue = Queue();
        var random = new Random(5);
        string[][] labelSets = [["self-hosted"], ["linux"], ["gpu", "linux"]];
        for (var id = 1; id <= 300; id++)
        {
            // Queued times collide on purpose: ties go to the attempt id.
            var queuedAt = _time.GetUtcNow().AddMilliseconds(random.Next(50));
            queue.Add(new ReadyItem(id, random.Next(1, 6), Lanes.All[random.Next(4)], labelSets[random.Next(3)], queuedAt));
        }
        var asked = Enumerable.Range(1, 300).Where(i => i % 7 != 0).Select(i => (long)i).Append(999).ToList();

        var bulk = queue.Standings(asked);

        Assert.That(bulk.Keys, Is.EquivalentTo(asked.Where(id => id != 999)), "an attempt not waiting is left out");
        foreach (var id in asked.Where(id => id != 999))
        {
            var one = queue.Standing(id)!;
            Assert.That((bulk[id].Lane, bulk[id].Position, bulk[id].InLane, bulk[id].OrgId), Is.EqualTo((one.Lane, one.Position, one.InLane, one.OrgId)), $"attempt {id}");
        }
    }

    [Test]
    public void HeldByQuota_OnlyWhenTheOrgIsAtItsQuota()
    {
        var queue = Queue();
        queue.SetShare(1, new OrgShare(1, 1));
        queue.Add(new ReadyItem(1, 1, Lane.Normal, ["linux"], _time.GetUtcNow()));
        queue.Add(new ReadyItem(2, 1, Lane.Normal, ["linux"], _time.GetUtcNow()));

        Assert.That(queue.HeldByQuota(2), Is.Null, "nothing runs yet");
        var running = queue.Reserve(new HashSet<string> { "linux" })!;
        Assert.That(queue.HeldByQuota(2), Is.EqualTo(new OrgLoad(1, 1, 1)));
        Assert.That(queue.HeldByQuota(running.AttemptId), Is.Null, "a reserved attempt does not wait");

        var counts = queue.Counts();
        Assert.That((counts.WaitingPerLane[Lane.Normal], counts.WaitingPerOrg[1], counts.RunningPerOrg[1]), Is.EqualTo((1, 1, 1)));
    }
}
