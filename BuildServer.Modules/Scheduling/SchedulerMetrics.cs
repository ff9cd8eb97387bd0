using System.Diagnostics.Metrics;
using System.Globalization;

namespace BuildServer.Modules.Scheduling;

/// <summary>
/// The scheduler's instruments, on the meter <c>BuildServer.Scheduling</c> (for the observability issue to
/// publish): how much waits per lane and per organisation (read from <see cref="ReadyAttempts"/> when
/// collected), how long a queued attempt waited for its claim, and how attempts ended. Thread-safe.
/// </summary>
public sealed class SchedulerMetrics
{
    public const string MeterName = "BuildServer.Scheduling";

    private readonly Histogram<double> _pickupLatency;
    private readonly Counter<long> _attemptsFinished;
    private readonly TimeProvider _time;

    public SchedulerMetrics(IMeterFactory meters, ReadyAttempts ready, TimeProvider time)
    {
        _time = time;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("buildserver.scheduling.queue.depth",
            () => ready.Counts().WaitingPerLane.Select(l => new Measurement<int>(l.Value, new KeyValuePair<string, object?>("lane", l.Key.ToWire()))),
            unit: "{attempt}", description: "Attempts waiting for an agent, per lane.");
        meter.CreateObservableGauge("buildserver.scheduling.queue.depth_by_org",
            () => ready.Counts().WaitingPerOrg.Select(o => new Measurement<int>(o.Value, OrgTag(o.Key))),
            unit: "{attempt}", description: "Attempts waiting for an agent, per organisation (its id).");
        meter.CreateObservableGauge("buildserver.scheduling.running_by_org",
            () => ready.Counts().RunningPerOrg.Select(o => new Measurement<int>(o.Value, OrgTag(o.Key))),
            unit: "{attempt}", description: "Attempts running, per organisation (its id): what its quota counts.");
        _pickupLatency = meter.CreateHistogram<double>("buildserver.scheduling.pickup_latency",
            unit: "ms", description: "From an attempt being queued to an agent claiming it.");
        _attemptsFinished = meter.CreateCounter<long>("buildserver.scheduling.attempts_finished",
            unit: "{attempt}", description: "Attempts that ended, by outcome (succeeded, failed, cancelled, timed_out, lost, …).");
    }

    /// <summary>An agent claimed <paramref name="item"/> just now.</summary>
    public void PickedUp(ReadyItem item) =>
        _pickupLatency.Record(Math.Max(0, (_time.GetUtcNow() - item.QueuedAt).TotalMilliseconds), new KeyValuePair<string, object?>("lane", item.Lane.ToWire()));

    /// <summary>An attempt ended with <paramref name="outcome"/> (the status's wire word).</summary>
    public void AttemptFinished(string outcome) => _attemptsFinished.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    private static KeyValuePair<string, object?> OrgTag(long orgId) => new("org", orgId.ToString(CultureInfo.InvariantCulture));
}
