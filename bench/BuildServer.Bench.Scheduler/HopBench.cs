using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Scheduling;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BuildServer.Bench.Scheduler;

/// <summary>
/// Hangfire's hop, beside the one the pickup path uses. Baseline: <see cref="IDispatchSignal.Notify"/> to a parked
/// waiter awake (an idle agent slot), one sample before each Hangfire sample. Then, with a real Hangfire server
/// configured by the project's own <c>BackgroundWork</c> (through <c>AddBuildServerModules</c>; nothing else of the
/// server is started, so the server is idle), on Hangfire.InMemory and Hangfire.PostgreSql: <c>Enqueue</c> into a
/// lane's queue until the job method's first line runs (from this process, and on PostgreSQL also from another
/// process, as a second node would); and <c>Schedule</c> at a due time <c>delay</c> ahead until the job starts
/// (lateness = start − due; a retry's backoff is scheduled so), beside an in-process timer (<c>Task.Delay</c>)
/// due at the same moment.
/// </summary>
internal static class HopBench
{
    private const int Warmup = 10;
    private static readonly string Queue = BackgroundQueues.Of(Lane.Normal);
    private static long _nextSample;

    /// <summary>The server's service registrations with the Hangfire server as the only hosted service (the
    /// project's own, the built-in agent, the feed, the reconciler schedule and the migration, are left out).</summary>
    public static ServiceProvider Services(string dataDir, string? postgres)
    {
        var services = new ServiceCollection().AddLogging().AddBuildServerModules(ClaimBench.Configuration(dataDir, postgres));
        foreach (var own in services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType is not null).ToList())
        {
            services.Remove(own);
        }
        services.AddSingleton<HopArrivals>();
        return services.BuildServiceProvider();
    }

    public static async Task<JsonObject> RunAsync(int samples, int scheduled, TimeSpan delay, CancellationToken ct)
    {
        var result = new JsonObject { ["samples"] = samples, ["warmup"] = Warmup, ["scheduled"] = scheduled, ["delay_s"] = delay.TotalSeconds };
        var dataDir = Directory.CreateTempSubdirectory("bssched-hop-").FullName;
        try
        {
            var load = new MachineLoad();
            await using (var sp = Services(dataDir, null))
            {
                result["config"] = Config(sp);
                var server = await StartServerAsync(sp, ct);
                var client = sp.GetRequiredService<IBackgroundJobClient>();
                result["inmemory"] = new JsonObject
                {
                    ["enqueue_same_process"] = await EnqueueSeriesAsync(sp, samples, id => Task.FromResult(EnqueueHere(client, id)), ct),
                    ["schedule"] = await ScheduleSeriesAsync(sp, scheduled, delay, ct),
                };
                await server.StopAsync(CancellationToken.None);
            }
            result["machine_inmemory"] = load.Stop();

            await using var pg = await PgCluster.StartAsync();
            var db = await pg.CreateDatabaseAsync($"bench_hop_{DateTime.UtcNow:HHmmss}");
            load = new MachineLoad();
            var pgCpu = pg.CpuSeconds();
            double otherCpu;
            await using (var sp = Services(dataDir, db))
            {
                var storage = sp.GetRequiredService<JobStorage>();
                // The storage's effective options (its Options property is internal): the configuration measured.
                var options = storage.GetType().GetProperty("Options", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance)?.GetValue(storage) as PostgreSqlStorageOptions;
                result["postgres_storage"] = new JsonObject
                {
                    ["queue_poll_interval_s"] = options?.QueuePollInterval.TotalSeconds,
                    ["long_polling"] = options?.EnableLongPolling,
                };
                var server = await StartServerAsync(sp, ct);
                var client = sp.GetRequiredService<IBackgroundJobClient>();
                var same = await EnqueueSeriesAsync(sp, samples, id => Task.FromResult(EnqueueHere(client, id)), ct);
                using var other = OtherNode.Start(db);
                var fromOther = await EnqueueSeriesAsync(sp, samples, other.EnqueueAsync, ct);
                otherCpu = other.Stop();
                result["postgres"] = new JsonObject
                {
                    ["enqueue_same_process"] = same,
                    ["enqueue_other_process"] = fromOther,
                    ["schedule"] = await ScheduleSeriesAsync(sp, scheduled, delay, ct),
                };
                await server.StopAsync(CancellationToken.None);
            }
            result["machine_postgres"] = load.Stop(alsoUnderTest: pg.CpuSeconds() - pgCpu + otherCpu);
            return result;
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static JsonObject Config(IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<BackgroundWorkOptions>>().Value;
        return new JsonObject
        {
            ["workers"] = options.Workers,
            ["schedule_polling_s"] = options.SchedulePolling.TotalSeconds,
            ["queues"] = new JsonArray([.. BackgroundQueues.InOrder.Select(q => (JsonNode)q)]),
            ["queue"] = Queue,
        };
    }

    private static async Task<IHostedService> StartServerAsync(IServiceProvider sp, CancellationToken ct)
    {
        var server = sp.GetServices<IHostedService>().OfType<BackgroundJobServerHostedService>().Single();
        await server.StartAsync(ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // the workers are up and waiting on their queues
        return server;
    }

    private static (long Start, long End) EnqueueHere(IBackgroundJobClient client, long sample)
    {
        var start = Stopwatch.GetTimestamp();
        client.Enqueue<HopProbe>(Queue, p => p.Arrive(sample));
        return (start, Stopwatch.GetTimestamp());
    }

    /// <summary>One signal sample and one enqueue sample, alternately, 20–60 ms apart (the server idle between).</summary>
    private static async Task<JsonObject> EnqueueSeriesAsync(IServiceProvider sp, int samples, Func<long, Task<(long Start, long End)>> enqueue, CancellationToken ct)
    {
        var arrivals = sp.GetRequiredService<HopArrivals>();
        var signal = sp.GetRequiredService<IDispatchSignal>();
        var (hop, call, baseline) = (new Timings(), new Timings(), new Timings());
        for (var i = 0; i < Warmup + samples; i++)
        {
            await Task.Delay(Random.Shared.Next(20, 60), ct);
            var woke = await SignalSampleAsync(signal, ct);
            await Task.Delay(Random.Shared.Next(20, 60), ct);
            var sample = Interlocked.Increment(ref _nextSample);
            var arrival = arrivals.Expect(sample);
            var (start, end) = await enqueue(sample);
            var started = await arrival.WaitAsync(TimeSpan.FromSeconds(30), ct);
            if (i < Warmup) continue;
            hop.AddMicroseconds(Stopwatch.GetElapsedTime(start, started.Timestamp).TotalMicroseconds);
            call.AddMicroseconds(Stopwatch.GetElapsedTime(start, end).TotalMicroseconds);
            baseline.AddMicroseconds(woke);
        }
        return new JsonObject
        {
            ["baseline_dispatch_signal"] = baseline.ToJson(),
            ["enqueue_to_start"] = hop.ToJson(),
            ["enqueue_call"] = call.ToJson(),
            ["ratio_p50"] = Timings.Ratio(hop, baseline),
        };
    }

    /// <summary>Notify to a parked waiter awake, the waiter as the built-in agent's idle slot waits.</summary>
    private static async Task<double> SignalSampleAsync(IDispatchSignal signal, CancellationToken ct)
    {
        var pulse = signal.NextPulse;
        var waiter = Task.Run(async () =>
        {
            await pulse.WaitAsync(TimeSpan.FromSeconds(30), ct);
            return Stopwatch.GetTimestamp();
        }, ct);
        await Task.Delay(5, ct); // the waiter is parked
        var start = Stopwatch.GetTimestamp();
        signal.Notify();
        return Stopwatch.GetElapsedTime(start, await waiter).TotalMicroseconds;
    }

    /// <summary><paramref name="count"/> jobs scheduled <paramref name="delay"/> ahead, 200–600 ms apart (so the due
    /// times fall at every phase of the 1 s schedule polling), each beside a <c>Task.Delay</c> due at the same time.</summary>
    private static async Task<JsonObject> ScheduleSeriesAsync(IServiceProvider sp, int count, TimeSpan delay, CancellationToken ct)
    {
        var arrivals = sp.GetRequiredService<HopArrivals>();
        var client = sp.GetRequiredService<IBackgroundJobClient>();
        var hangfire = new List<Task<double>>();
        var timer = new List<Task<double>>();
        for (var i = 0; i < count; i++)
        {
            await Task.Delay(Random.Shared.Next(200, 600), ct);
            var sample = Interlocked.Increment(ref _nextSample);
            var arrival = arrivals.Expect(sample);
            var due = DateTimeOffset.UtcNow + delay;
            client.Schedule<HopProbe>(Queue, p => p.Arrive(sample), due);
            hangfire.Add(LatenessAsync(arrival, due));
            timer.Add(LatenessAsync(Task.Delay(due - DateTimeOffset.UtcNow, ct).ContinueWith(_ => new Arrival(0, DateTimeOffset.UtcNow), ct), due));
        }
        var late = await Task.WhenAll(hangfire).WaitAsync(delay + TimeSpan.FromSeconds(30), ct);
        var timerLate = await Task.WhenAll(timer);
        return new JsonObject
        {
            ["baseline_task_delay_lateness"] = Lateness(timerLate),
            ["lateness"] = Lateness(late),
        };
    }

    private static async Task<double> LatenessAsync(Task<Arrival> arrival, DateTimeOffset due) => ((await arrival).Utc - due).TotalMicroseconds;

    private static JsonObject Lateness(double[] us)
    {
        var t = new Timings();
        foreach (var x in us) t.AddMicroseconds(x);
        var json = t.ToJson();
        json["min_us"] = Timings.Round(us.Min());
        json["early"] = us.Count(x => x < 0); // started before its due time
        return json;
    }

    /// <summary>The child process that enqueues as another node would (<see cref="HopEnqueuer"/>).</summary>
    private sealed class OtherNode : IDisposable
    {
        private readonly Process _process;

        private OtherNode(Process process) => _process = process;

        public static OtherNode Start(string connectionString)
        {
            var host = Environment.ProcessPath!;
            var info = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            if (Path.GetFileNameWithoutExtension(host) == "dotnet") info.ArgumentList.Add(typeof(HopBench).Assembly.Location);
            info.ArgumentList.Add("hop-enqueue");
            info.Environment["BENCH_HOP_POSTGRES"] = connectionString;
            var process = Process.Start(info)!;
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line) Log.Info($"other node: {line}");
            };
            process.BeginErrorReadLine();
            return new OtherNode(process);
        }

        public async Task<(long Start, long End)> EnqueueAsync(long sample)
        {
            await _process.StandardInput.WriteLineAsync(sample.ToString(CultureInfo.InvariantCulture));
            await _process.StandardInput.FlushAsync();
            var answer = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the other node exited");
            var parts = answer.Split(' ');
            if (long.Parse(parts[0], CultureInfo.InvariantCulture) != sample) throw new InvalidOperationException($"the other node answered {answer}");
            return (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
        }

        /// <summary>Ends the child (stdin closed); its CPU seconds, part of the system under test.</summary>
        public double Stop()
        {
            var cpu = MachineLoad.ProcessCpuSeconds(_process.Id.ToString(CultureInfo.InvariantCulture));
            _process.StandardInput.Close();
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10))) _process.Kill();
            return cpu;
        }

        public void Dispose() => _process.Dispose();
    }
}
