using System.Collections.Concurrent;
using BuildServer.Modules.Agents.Protocol;
using BuildServer.Modules.Agents.Worker;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Runtime;
using BuildServer.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace BuildServer.Tests.Agents;

/// <summary>The agent's loop asks its executor to sweep now and then, telling it which
/// attempts run. Here the executor and the server are fakes: what is checked is the agent's side of the contract.</summary>
[TestFixture]
public sealed class AgentWorkerSweepTests
{
    [Test]
    public async Task AgentWorker_WhileAJobRunsAndAfter_SweepsWithExactlyTheRunningAttempts()
    {
        var outbox = Directory.CreateTempSubdirectory("buildserver-sweep-loop-").FullName;
        try
        {
            var executor = new SweepRecorder();
            var runner = new HeldJob();
            var transport = new OneJob(Job(attemptId: 4242));
            using var worker = new AgentWorker(transport, executor, runner,
                new AgentWorkerOptions("sweeper", 1, outbox, TimeSpan.FromSeconds(30))
                {
                    LongPoll = TimeSpan.FromMilliseconds(50),
                    SweepInterval = TimeSpan.FromMilliseconds(20),
                },
                TimeProvider.System, NullLogger.Instance);
            using var stop = new CancellationTokenSource();
            var loop = worker.RunAsync(stop.Token, stop.Token);

            await runner.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var during = await executor.NextAsync();
            runner.Finish.SetResult();
            await transport.Completed.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var after = await executor.NextAsync();
            await stop.CancelAsync();
            await loop.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.That(during, Is.EquivalentTo(new[] { 4242L }), "the running attempt is named, so its containers stay");
            Assert.That(after, Is.Empty, "after its dispose the attempt is no longer running: what it left may go");
        }
        finally
        {
            Directory.Delete(outbox, recursive: true);
        }
    }

    private static AgentJob Job(long attemptId) =>
        new(attemptId, 1, 1, "build", 1, 1, "project", null, null, new JobBuilder().Run("true").Build(), Contexts.Default(), 1,
            DateTimeOffset.UtcNow.AddHours(1), null);

    /// <summary>Records each sweep's set; <see cref="NextAsync"/> is the first sweep after the call.</summary>
    private sealed class SweepRecorder : IExecutor
    {
        private readonly ConcurrentQueue<TaskCompletionSource<long[]>> _waiting = new();

        public string Name => "recorder";

        public Task RemoveLeftoversAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken) =>
            Task.FromResult<IExecution>(new NoExecution());

        public Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken)
        {
            while (_waiting.TryDequeue(out var waiter)) waiter.TrySetResult([.. runningAttempts]);
            return Task.CompletedTask;
        }

        public Task<long[]> NextAsync()
        {
            var waiter = new TaskCompletionSource<long[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
            return waiter.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class NoExecution : IExecution
    {
        public string Workspace => "/nowhere";

        public string TempFolder => "/nowhere/tmp";

        public string ToHostPath(string stepPath) => stepPath;

        public Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken) =>
            Task.FromResult(new StepResult(0, false));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A job that runs until the test lets it finish.</summary>
    private sealed class HeldJob : IJobRunner
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Finish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<JobOutcome> RunAsync(JobSpec spec, JobContext context, IExecution execution, IJobReporter reporter, CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            await Finish.Task.WaitAsync(cancellationToken);
            return new JobOutcome(Conclusion.Success, null, 0, new Dictionary<string, string>(), [], [], null);
        }
    }

    /// <summary>A server that hands out one job and accepts every report.</summary>
    private sealed class OneJob(AgentJob job) : IAgentTransport
    {
        private int _given;

        public TaskCompletionSource Completed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<AgentJob?> AcquireAsync(TimeSpan wait, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _given, 1) == 0) return job;
            await Task.Delay(wait, cancellationToken);
            return null;
        }

        public Task<HeartbeatResponse> HeartbeatAsync(IReadOnlyCollection<long> running, int freeSlots, CancellationToken cancellationToken) =>
            Task.FromResult(new HeartbeatResponse([], [], false, 30));

        public Task<LogChunkResponse> SendLogAsync(long attemptId, long sequence, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken) =>
            Task.FromResult(new LogChunkResponse(sequence, offset + chunk.Length, false));

        public Task UpdateStepAsync(long attemptId, int index, StepUpdate update, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<CompletionResponse> CompleteAsync(long attemptId, CompletionRequest completion, CancellationToken cancellationToken)
        {
            Completed.TrySetResult();
            return Task.FromResult(new CompletionResponse(attemptId, completion.Status ?? BuildServer.Modules.Runs.Status.Succeeded, false));
        }

        public Task<CancellationToken> WatchCancelAsync(long attemptId, CancellationToken cancellationToken) => Task.FromResult(CancellationToken.None);

        public void ReleaseWatch(long attemptId)
        {
        }
    }
}
