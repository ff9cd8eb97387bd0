using System.Threading.Channels;

namespace BuildServer.Modules.Runs.Ui;

/// <summary>
/// What keeps a live page in step without flooding it: <see cref="Changed"/> (called by <see cref="RunUpdates"/>, from
/// any thread) asks for a reload; <see cref="FollowAsync"/> reloads once per request, but never sooner than
/// <c>gap</c> after the previous reload, so any number of changes meanwhile make one reload; with no change for the
/// interval <c>fallback</c> gives, it reloads anyway (the safety net for a change no signal announced).
/// </summary>
internal sealed class ReloadThrottle(TimeProvider time, TimeSpan gap)
{
    private readonly Channel<bool> _asked = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Asks for a reload; never blocks (a reload already asked for covers this one).</summary>
    public void Changed() => _asked.Writer.TryWrite(true);

    /// <summary>Runs until <paramref name="stop"/> is cancelled (then throws <see cref="OperationCanceledException"/>) or
    /// <paramref name="reload"/> returns false.</summary>
    public async Task FollowAsync(Func<TimeSpan> fallback, Func<CancellationToken, Task<bool>> reload, CancellationToken stop)
    {
        while (true)
        {
            using (var timeout = new CancellationTokenSource(fallback(), time))
            using (var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token))
            {
                try
                {
                    await _asked.Reader.ReadAsync(either.Token);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    // Nothing asked within the interval: reload anyway.
                }
            }
            if (!await reload(stop)) return;
            await Task.Delay(gap, time, stop); // what is asked meanwhile waits in the channel as one request
        }
    }
}
