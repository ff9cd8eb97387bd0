using BuildServer.Modules.Runs.Ui;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace BuildServer.Tests.Ui;

/// <summary>How the run page turns change signals into reloads, on a fake clock.</summary>
public sealed class ReloadThrottleTests
{
    private static readonly TimeSpan Gap = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Fallback = TimeSpan.FromSeconds(5);

    private sealed class Follower : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> _reloads = new();

        public Follower(FakeTimeProvider clock)
        {
            Throttle = new ReloadThrottle(clock, Gap);
            Task = Throttle.FollowAsync(() => Fallback, _ =>
            {
                _reloads.Enqueue(clock.GetUtcNow());
                return System.Threading.Tasks.Task.FromResult(true);
            }, _stop.Token);
        }

        public ReloadThrottle Throttle { get; }
        public Task Task { get; }
        public int Reloads => _reloads.Count;

        /// <summary>When (on the fake clock) each reload happened.</summary>
        public DateTimeOffset[] Times => [.. _reloads];

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            Assert.That(async () => await Task, Throws.InstanceOf<OperationCanceledException>());
            _stop.Dispose();
        }
    }

    [Test]
    public async Task ABurstOfChanges_MakesOneReload_AndChangesDuringThePause_OneMore()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var follower = new Follower(clock);

        for (var i = 0; i < 200; i++) follower.Throttle.Changed();
        await Eventually.Until(() => Task.FromResult(follower.Reloads), n => n == 1, TimeSpan.FromSeconds(5), "the first reload");
        for (var i = 0; i < 200; i++) follower.Throttle.Changed();
        Assert.That(follower.Reloads, Is.EqualTo(1));

        // Time moves on in small steps (the loop may not be in its pause yet when a step is made).
        await Eventually.Until(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(10));
            return Task.FromResult(follower.Reloads);
        }, n => n >= 2, TimeSpan.FromSeconds(10), "the second reload");
        Assert.That(follower.Times[1] - follower.Times[0], Is.GreaterThanOrEqualTo(Gap), "not before the pause was over");
        Assert.That(follower.Times[1] - follower.Times[0], Is.LessThan(Fallback), "asked for, not the safety net's");
        Assert.That(follower.Reloads, Is.EqualTo(2), "400 changes, two reloads");
    }

    [Test]
    public async Task WithoutChanges_ItReloadsOnceEachFallbackInterval()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var follower = new Follower(clock);

        clock.Advance(Fallback - TimeSpan.FromMilliseconds(1));
        Assert.That(follower.Reloads, Is.Zero);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await Eventually.Until(() => Task.FromResult(follower.Reloads), n => n == 1, TimeSpan.FromSeconds(5), "the safety net's reload");
    }
}
