using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Scheduling;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BuildServer.Tests.Scheduling;

/// <summary>The meter <c>BuildServer.Scheduling</c>, read with a <see cref="MeterListener"/> while a test plays the agent.</summary>
[TestFixture(Db.Sqlite)]
[TestFixture(Db.Postgres)]
public sealed class SchedulerMetricsTests(Db db)
{
    private sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, string?> Tags);

    [Test]
    public async Task QueueClaimFinish_ShowInDepthPickupLatencyAndOutcomes()
    {
        await using var harness = await ModuleHarness.StartAsync(db);
        var measured = new ConcurrentQueue<Measured>();
        using var listener = Listen(harness, measured);
        var project = await harness.CreateProjectAsync("metered");
        var run = await harness.TriggerAsync(project, "jobs:\n  work:\n    steps:\n      - run: echo work\n");
        var runner = await harness.CreateRunnerAsync("metered-runner", "self-hosted");

        listener.RecordObservableInstruments();
        var depthBefore = Take(measured);
        var claim = await harness.ClaimAsync(runner);
        await harness.CompleteAsync(claim!.AttemptId, new AttemptOutcome(Status.Succeeded, 0));
        listener.RecordObservableInstruments();
        var after = Take(measured);

        var org = project.OrgId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(Value(depthBefore, "buildserver.scheduling.queue.depth", "lane", "normal"), Is.EqualTo(1));
        Assert.That(Value(depthBefore, "buildserver.scheduling.queue.depth", "lane", "critical"), Is.EqualTo(0));
        Assert.That(Value(depthBefore, "buildserver.scheduling.queue.depth_by_org", "org", org), Is.EqualTo(1));
        Assert.That(claim.RunId, Is.EqualTo(run.Id));
        var latency = after.Where(m => m.Instrument == "buildserver.scheduling.pickup_latency").ToList();
        Assert.That(latency, Has.Count.EqualTo(1));
        Assert.That(latency[0].Value, Is.GreaterThanOrEqualTo(0));
        Assert.That(latency[0].Tags["lane"], Is.EqualTo("normal"));
        Assert.That(after.Where(m => m.Instrument == "buildserver.scheduling.attempts_finished").Select(m => (m.Value, m.Tags["outcome"])),
            Is.EqualTo(new[] { (1.0, "succeeded") }));
        Assert.That(Value(after, "buildserver.scheduling.queue.depth", "lane", "normal"), Is.EqualTo(0));
        Assert.That(after.Where(m => m.Instrument is "buildserver.scheduling.queue.depth_by_org" or "buildserver.scheduling.running_by_org"), Is.Empty);
    }

    /// <summary>Listens to this harness's scheduling meter only (its own meter factory), whatever else runs in the process.</summary>
    private static MeterListener Listen(ModuleHarness harness, ConcurrentQueue<Measured> measured)
    {
        var factory = harness.Services.GetRequiredService<IMeterFactory>();
        harness.Services.GetRequiredService<SchedulerMetrics>(); // its instruments exist from here on
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == SchedulerMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory)) l.EnableMeasurementEvents(instrument);
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, string?>();
            foreach (var tag in tags) copy[tag.Key] = tag.Value?.ToString();
            measured.Enqueue(new Measured(instrument.Name, value, copy));
        }
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        return listener;
    }

    private static List<Measured> Take(ConcurrentQueue<Measured> measured)
    {
        var taken = new List<Measured>();
        while (measured.TryDequeue(out var m)) taken.Add(m);
        return taken;
    }

    private static double? Value(IEnumerable<Measured> measured, string instrument, string tag, string value) =>
        measured.LastOrDefault(m => m.Instrument == instrument && m.Tags.GetValueOrDefault(tag) == value)?.Value;
}
