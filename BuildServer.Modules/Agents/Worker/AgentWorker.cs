using System.Collections.Concurrent;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runtime;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents.Worker;

/// <param name="Name">The agent's name, for <c>RUNNER_NAME</c>.</param>
/// <param name="Outbox">The folder of undelivered reports (see <see cref="AttemptOutbox"/>).</param>
/// <param name="Heartbeat">Until the server says otherwise (every heartbeat's answer names the interval).</param>
internal sealed record AgentWorkerOptions(string Name, int Slots, string Outbox, TimeSpan Heartbeat)
{
    /// <summary>How long an acquire is held by the server when there is no work.</summary>
    public TimeSpan LongPoll { get; init; } = AgentWire.MaxLongPoll;

    public Backoff Backoff { get; init; } = Backoff.Default;

    /// <summary>After the agent stops, how long it still tries to deliver what its jobs reported.</summary>
    public TimeSpan DeliveryGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a delivery looks for new log output while a job writes (the log writer flushes every 50 ms).</summary>
    public TimeSpan LogPoll { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How often the executor sweeps what attempts this agent no longer runs left behind.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// An agent's loop, the same for the built-in agent and a remote one (only the <see cref="IAgentTransport"/>
/// differs): <see cref="AgentWorkerOptions.Slots"/> slots each long-poll for a job and run it on the executor, its
/// reports go through an <see cref="AttemptOutbox"/>, and a heartbeat renews the leases of what runs and brings
/// cancellations, abandonments and drain orders back.
/// <para>Stopping: <c>drain</c> takes no new work and lets running jobs finish; <c>stop</c> stops running jobs at once
/// (they are reported <c>lost</c>, so the server retries them). Either way, reports are delivered for up to
/// <see cref="AgentWorkerOptions.DeliveryGrace"/> more, and what is left waits on disk for the next start.</para>
/// </summary>
internal sealed class AgentWorker(
    IAgentTransport transport,
    IExecutor executor,
    IJobRunner jobs,
    AgentWorkerOptions options,
    TimeProvider time,
    ILogger logger) : IDisposable
{
    private readonly ConcurrentDictionary<long, ActiveJob> _running = new();
    private readonly ConcurrentDictionary<long, (AttemptOutbox Outbox, Task<Delivery> Delivery)> _deliveries = new();
    private readonly CancellationTokenSource _deliveryStop = new();
    private TaskCompletionSource _drainLifted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _serverDrain;
    private TimeSpan _heartbeat = options.Heartbeat;

    /// <summary>Fatal: the server will never take this agent's calls (an incompatible version). The loop ends with it.</summary>
    public string? FatalError { get; private set; }

    public int Running => _running.Count;

    public void Dispose() => _deliveryStop.Dispose();

    public async Task RunAsync(CancellationToken drain, CancellationToken stop)
    {
        await executor.RemoveLeftoversAsync(stop);
        foreach (var outbox in AttemptOutbox.Recover(options.Outbox, time, logger)) StartDelivery(outbox);
        using var fatal = new CancellationTokenSource();
        using var noNewWork = CancellationTokenSource.CreateLinkedTokenSource(drain, stop, fatal.Token);
        using var heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(stop, fatal.Token);
        var heartbeat = HeartbeatLoopAsync(heartbeatStop.Token);
        var sweep = SweepLoopAsync(heartbeatStop.Token);
        await Task.WhenAll(Enumerable.Range(0, options.Slots).Select(slot => SlotAsync(slot, fatal, noNewWork.Token, stop)));
        await heartbeatStop.CancelAsync();
        await heartbeat;
        await sweep;
        // Deliver what the jobs reported; what does not go now waits on disk for the next start.
        _deliveryStop.CancelAfter(options.DeliveryGrace);
        await Task.WhenAll(_deliveries.Values.Select(d => d.Delivery));
    }

    private async Task SlotAsync(int slot, CancellationTokenSource fatal, CancellationToken noNewWork, CancellationToken stop)
    {
        var failures = 0;
        while (!noNewWork.IsCancellationRequested)
        {
            try
            {
                if (_serverDrain)
                {
                    await Waits.QuietlyAsync(_drainLifted.Task.WaitAsync(noNewWork));
                    continue;
                }
                var job = await transport.AcquireAsync(options.LongPoll, noNewWork);
                failures = 0;
                if (job is not null) await RunJobAsync(job, stop);
            }
            catch (OperationCanceledException) when (noNewWork.IsCancellationRequested)
            {
                return;
            }
            catch (AgentCallRefusedException e) when (e.Status == 426)
            {
                FatalError = e.Message;
                logger.LogCritical("The server refuses this agent's version: {Detail}", e.Message);
                await fatal.CancelAsync();
                return;
            }
            catch (Exception e) when (e is ServerUnavailableException or AgentCallRefusedException)
            {
                var pause = options.Backoff.Delay(failures++);
                if (failures == 1 || failures % 20 == 0)
                {
                    logger.LogWarning("Slot {Slot}: no work can be acquired ({Error}); retrying in {Pause}", slot, e.Message, pause);
                }
                await Waits.QuietlyAsync(Task.Delay(pause, time, noNewWork));
            }
            catch (Exception e)
            {
                logger.LogError(e, "Slot {Slot} failed; it retries in a second", slot);
                await Waits.QuietlyAsync(Task.Delay(TimeSpan.FromSeconds(1), time, noNewWork));
            }
        }
    }

    /// <summary>Every <see cref="AgentWorkerOptions.SweepInterval"/> the executor removes what belongs to attempts this
    /// agent no longer runs. An attempt is in <c>_running</c> from before its prepare until after its dispose, and a
    /// job that starts after the snapshot is the executor's to protect (see <see cref="IExecutor.SweepAsync"/>).</summary>
    private async Task SweepLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await executor.SweepAsync(_running.Keys.ToHashSet(), stop);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    logger.LogWarning(e, "The executor's sweep failed; it runs again in {Interval}", options.SweepInterval);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the agent stops
        }
    }

    private async Task RunJobAsync(AgentJob job, CancellationToken stop)
    {
        var outbox = AttemptOutbox.Create(options.Outbox, job);
        using var cancel = new CancellationTokenSource();
        var active = new ActiveJob(outbox, cancel);
        _running[job.AttemptId] = active;
        StartDelivery(outbox);
        AttemptOutcome outcome;
        StepEnd? lastStep = null;
        try
        {
            var pushed = await transport.WatchCancelAsync(job.AttemptId, stop);
            using var jobStop = CancellationTokenSource.CreateLinkedTokenSource(stop, cancel.Token, pushed);
            (outcome, lastStep) = await ExecuteAsync(job, outbox, jobStop.Token);
            if (stop.IsCancellationRequested && !cancel.IsCancellationRequested && !pushed.IsCancellationRequested)
            {
                outcome = new AttemptOutcome(Status.Lost, null, "the agent stopped while the attempt was running");
            }
        }
        catch (Exception e) when (!active.Abandoned)
        {
            logger.LogError(e, "Attempt {AttemptId} failed in the agent", job.AttemptId);
            outcome = new AttemptOutcome(Status.Failed, null, "agent error: " + e.Message);
        }
        catch (Exception)
        {
            outcome = new AttemptOutcome(Status.Cancelled);
        }
        finally
        {
            transport.ReleaseWatch(job.AttemptId);
            _running.TryRemove(job.AttemptId, out _);
        }
        if (active.Abandoned)
        {
            logger.LogWarning("Attempt {AttemptId} was abandoned: the server no longer counts it as this agent's; its results are discarded", job.AttemptId);
            outbox.Discard();
            return;
        }
        outbox.Add(new OutboxEvent(outbox.LogLength, Completion: new CompletionRequest(outcome.Status, outcome.ExitCode, outcome.Reason,
            outcome.Outputs is { } outputs ? new Dictionary<string, string>(outputs) : null, lastStep)));
    }

    private async Task<(AttemptOutcome Outcome, StepEnd? LastStep)> ExecuteAsync(AgentJob job, AttemptOutbox outbox, CancellationToken stop)
    {
        await using var log = outbox.OpenLog();
        if (JobRequirements.CannotRun(job.Spec, executor) is { } unsupported)
        {
            log.AppendLine(time.GetUtcNow(), unsupported);
            return (new AttemptOutcome(Status.Failed, null, unsupported), null);
        }
        var reporter = new OutboxReporter(outbox, log, time);
        var environment = new Dictionary<string, string> { ["RUNNER_NAME"] = options.Name, ["BUILDSERVER_RUNNER"] = options.Name };
        IExecution execution;
        try
        {
            var request = new ExecutionRequest(job.AttemptId, environment)
            {
                Container = JobRequirements.ContainerOf(job.Spec),
                Services = JobRequirements.ServicesOf(job.Spec),
                MicroVm = JobRequirements.InMicroVm(job.Spec),
            };
            execution = await executor.PrepareAsync(request, stop);
        }
        catch (ExecutorException e)
        {
            // The job cannot run as asked (an unsupported option, a missing image): its failure, not the agent's.
            log.AppendLine(time.GetUtcNow(), e.Message);
            return (new AttemptOutcome(Status.Failed, null, e.Message), null);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Cancelled while preparing (waiting for a service to be healthy, pulling an image): a cancel, not an agent error.
            const string reason = "cancelled while the job was being prepared";
            log.AppendLine(time.GetUtcNow(), reason);
            return (new AttemptOutcome(Status.Cancelled, null, reason), null);
        }
        await using var disposeExecution = execution;
        var result = await jobs.RunAsync(job.Spec, job.Context, execution, reporter, stop);
        await log.FlushAsync(CancellationToken.None);
        var status = ToStatus(result.Conclusion);
        return (new AttemptOutcome(status, result.ExitCode, status == Status.Succeeded ? null : result.Reason, result.Outputs), reporter.Unreported);
    }

    public static Status ToStatus(Conclusion conclusion) => conclusion switch
    {
        Conclusion.Success => Status.Succeeded,
        Conclusion.Failure => Status.Failed,
        Conclusion.Cancelled => Status.Cancelled,
        Conclusion.Skipped => Status.Skipped,
        _ => Status.TimedOut,
    };

    private void StartDelivery(AttemptOutbox outbox)
    {
        var delivery = Task.Run(async () =>
        {
            try
            {
                return await outbox.DeliverAsync(transport, options.Backoff, options.LogPoll, logger, _deliveryStop.Token);
            }
            catch (OperationCanceledException)
            {
                logger.LogWarning("Attempt {AttemptId}: undelivered reports stay on disk for the next start", outbox.AttemptId);
                return Delivery.Discarded;
            }
            finally
            {
                _deliveries.TryRemove(outbox.AttemptId, out _);
            }
        });
        _deliveries[outbox.AttemptId] = (outbox, delivery);
    }

    private async Task HeartbeatLoopAsync(CancellationToken stop)
    {
        var failures = 0;
        var first = true;
        while (!stop.IsCancellationRequested)
        {
            // The first heartbeat goes at once: its answer brings the server's interval. Until then the interval is only
            // a guess, which may be longer than the lease of a job acquired meanwhile (that job would be declared lost).
            if (!first) await Waits.QuietlyAsync(Task.Delay(failures == 0 ? _heartbeat : options.Backoff.Delay(failures - 1), time, stop));
            first = false;
            if (stop.IsCancellationRequested) return;
            try
            {
                var named = _running.Keys.Union(_deliveries.Keys).ToArray();
                var answer = await transport.HeartbeatAsync(named, Math.Max(0, options.Slots - _running.Count), stop);
                failures = 0;
                Apply(answer);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is ServerUnavailableException or AgentCallRefusedException)
            {
                if (failures++ == 0) logger.LogWarning("Heartbeat failed: {Error}; running jobs go on, and it retries with backoff", e.Message);
            }
            catch (Exception e)
            {
                failures++;
                logger.LogError(e, "Heartbeat failed");
            }
        }
    }

    private void Apply(HeartbeatResponse answer)
    {
        if (answer.HeartbeatSeconds > 0) _heartbeat = TimeSpan.FromSeconds(answer.HeartbeatSeconds);
        foreach (var id in answer.Cancel)
        {
            if (_running.TryGetValue(id, out var job) && !job.Cancel.IsCancellationRequested)
            {
                logger.LogInformation("Attempt {AttemptId}: cancelled on the server; stopping it", id);
                job.Stop();
            }
        }
        foreach (var id in answer.Abandon)
        {
            if (_running.TryGetValue(id, out var job))
            {
                job.Abandoned = true;
                job.Stop();
            }
            else if (_deliveries.TryGetValue(id, out var delivery))
            {
                logger.LogWarning("Attempt {AttemptId}: the server no longer counts it as this agent's; its undelivered reports are discarded", id);
                delivery.Outbox.Discard();
            }
        }
        if (answer.Drain != _serverDrain)
        {
            if (answer.Drain) logger.LogInformation("Draining on the server's order: running jobs finish, no new ones start");
            else logger.LogInformation("Drain lifted: taking work again");
            _serverDrain = answer.Drain;
            if (!answer.Drain) Interlocked.Exchange(ref _drainLifted, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    private sealed class ActiveJob(AttemptOutbox outbox, CancellationTokenSource cancel)
    {
        public AttemptOutbox Outbox { get; } = outbox;

        public CancellationTokenSource Cancel { get; } = cancel;

        public volatile bool Abandoned;

        public void Stop()
        {
            try
            {
                Cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // it ended meanwhile
            }
        }
    }

    /// <summary>The job's reports into the outbox: output into its log, each step's start and end as events (a step's
    /// end with the next step's start; the last one's with the completion).</summary>
    private sealed class OutboxReporter(AttemptOutbox outbox, Runs.Logs.ILogWriter log, TimeProvider time) : IJobReporter, IOutputSink
    {
        public StepEnd? Unreported { get; private set; }

        public IOutputSink Output => this;

        public async Task StepStartingAsync(int index, string name, CancellationToken cancellationToken)
        {
            await log.FlushAsync(CancellationToken.None);
            AddPending();
            outbox.Add(new OutboxEvent(log.Position, index, new StepUpdate("started", log.Position, null, null)));
        }

        public async Task StepFinishedAsync(StepOutcome outcome, CancellationToken cancellationToken)
        {
            await log.FlushAsync(CancellationToken.None);
            AddPending();
            Unreported = new StepEnd(outcome.Index, ToStatus(outcome.Outcome), outcome.ExitCode, log.Position);
            outbox.Wake();
        }

        private void AddPending()
        {
            if (Unreported is { } previous)
            {
                Unreported = null;
                outbox.Add(new OutboxEvent(previous.LogEnd, previous.Index, new StepUpdate("finished", previous.LogEnd, previous.Status, previous.ExitCode)));
            }
        }

        public void Line(ReadOnlySpan<char> text, OutputChannel stream) => log.AppendLine(time.GetUtcNow(), text);
    }
}
