using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Bench.Scheduler;

/// <summary>When a probe job started: the monotonic clock (comparable across processes on Linux: CLOCK_MONOTONIC)
/// and the wall clock (against a scheduled job's due time).</summary>
internal readonly record struct Arrival(long Timestamp, DateTimeOffset Utc);

/// <summary>The bench's side of the probe jobs: each sample is expected before it is enqueued, and completed by
/// the job's first line. Thread-safe (Hangfire's workers call <see cref="Arrived"/>).</summary>
internal sealed class HopArrivals
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<Arrival>> _expected = new();

    public Task<Arrival> Expect(long sample) =>
        _expected.GetOrAdd(sample, _ => new TaskCompletionSource<Arrival>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Arrived(long sample)
    {
        var arrival = new Arrival(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow);
        if (_expected.TryRemove(sample, out var waiter)) waiter.TrySetResult(arrival);
    }
}

/// <summary>The Hangfire job of the hop bench: does nothing but say when it started. Activated per job through the
/// server's job activator (a DI scope), like <c>RetryAdmission</c>.</summary>
internal sealed class HopProbe(HopArrivals arrivals)
{
    public void Arrive(long sample) => arrivals.Arrived(sample);
}

/// <summary>
/// The other node of the "enqueued by another process" sample: started by the bench as a child process
/// (<c>hop-enqueue</c>), it enqueues a probe into the PostgreSQL storage for each sample number read from stdin
/// and answers "sample start end" (monotonic timestamps around the <c>Enqueue</c> call). Hangfire.PostgreSql
/// wakes a worker at once only in the process that enqueued; a worker in another process finds the job at its
/// next queue poll.
/// </summary>
internal static class HopEnqueuer
{
    public static async Task<int> RunAsync(string connectionString)
    {
        var dataDir = Directory.CreateTempSubdirectory("bssched-hop-").FullName;
        try
        {
            await using var sp = HopBench.Services(dataDir, connectionString);
            var client = sp.GetRequiredService<IBackgroundJobClient>();
            var queue = BackgroundQueues.Of(Lane.Normal);
            while (await Console.In.ReadLineAsync() is { } line)
            {
                var sample = long.Parse(line, CultureInfo.InvariantCulture);
                var start = Stopwatch.GetTimestamp();
                client.Enqueue<HopProbe>(queue, p => p.Arrive(sample));
                var end = Stopwatch.GetTimestamp();
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sample} {start} {end}"));
                Console.Out.Flush();
            }
            return 0;
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
