using BuildServer.Modules.Executors;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using BuildServer.Modules.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents;

/// <summary>Runs one claimed attempt: the job runtime executes its steps on the executor, output goes into the
/// attempt's log, and every step's start and end, and the attempt's end, are reported through
/// <see cref="IAttemptLifecycle"/>.</summary>
internal sealed class AttemptExecution(
    IServiceScopeFactory scopes,
    IExecutor executor,
    IJobRunner jobs,
    ILogStore logs,
    IAttemptCancellation cancellation,
    TimeProvider time,
    ILogger<AttemptExecution> logger)
{
    public async Task RunAsync(RunnerRef runner, ClaimedAttempt claim, CancellationToken stoppingToken)
    {
        var cancelled = cancellation.Watch(claim.AttemptId);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var lifecycle = scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>();
            // A cancel that landed between the claim and Watch() found no one to tell: ask once.
            if (await lifecycle.IsCancelRequestedAsync(claim.AttemptId, stoppingToken))
            {
                await lifecycle.CompleteAttemptAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "cancelled before it started"), null, CancellationToken.None);
                return;
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancelled, stoppingToken);
            var (outcome, lastStep) = await RunJobAsync(lifecycle, runner, claim, stop.Token);
            if (stoppingToken.IsCancellationRequested && !cancelled.IsCancellationRequested)
            {
                outcome = new AttemptOutcome(Status.Lost, null, "the server stopped while the attempt was running");
            }
            await lifecycle.CompleteAttemptAsync(claim.AttemptId, outcome, lastStep, CancellationToken.None);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(e, "Attempt {AttemptId} failed in the agent", claim.AttemptId);
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().CompleteAttemptAsync(claim.AttemptId,
                new AttemptOutcome(Status.Failed, null, "agent error: " + e.Message), null, CancellationToken.None);
        }
        finally
        {
            cancellation.Release(claim.AttemptId);
        }
    }

    private async Task<(AttemptOutcome Outcome, StepReport? LastStep)> RunJobAsync(
        IAttemptLifecycle lifecycle, RunnerRef runner, ClaimedAttempt claim, CancellationToken stop)
    {
        await using var log = logs.OpenWriter(claim.RunId, claim.AttemptId);
        if (JobRequirements.ShellCannotRun(claim.Spec) is { } unsupported)
        {
            log.AppendLine(time.GetUtcNow(), unsupported);
            return (new AttemptOutcome(Status.Failed, null, unsupported), null);
        }
        var reporter = new Reporter(lifecycle, claim.StepIds, log, time);
        var environment = new Dictionary<string, string> { ["RUNNER_NAME"] = runner.Name, ["BUILDSERVER_RUNNER"] = runner.Name };
        await using var execution = await executor.PrepareAsync(new ExecutionRequest(claim.AttemptId, environment), stop);
        var result = await jobs.RunAsync(claim.Spec, claim.Context, execution, reporter, stop);
        await log.FlushAsync(CancellationToken.None);
        var status = ToStatus(result.Conclusion);
        var outcome = new AttemptOutcome(status, result.ExitCode, status == Status.Succeeded ? null : result.Reason, result.Outputs);
        return (outcome, reporter.Unreported);
    }

    public static Status ToStatus(Conclusion conclusion) => conclusion switch
    {
        Conclusion.Success => Status.Succeeded,
        Conclusion.Failure => Status.Failed,
        Conclusion.Cancelled => Status.Cancelled,
        Conclusion.Skipped => Status.Skipped,
        _ => Status.TimedOut,
    };

    /// <summary>Reports steps to the lifecycle. A step's end is written when the next step starts (or is
    /// skipped); the last one's goes with the attempt's completion, one write fewer per job.</summary>
    private sealed class Reporter(IAttemptLifecycle lifecycle, IReadOnlyList<long> stepIds, ILogWriter log, TimeProvider time) : IJobReporter, IOutputSink
    {
        public StepReport? Unreported { get; private set; }

        public IOutputSink Output => this;

        public async Task StepStartingAsync(int index, string name, CancellationToken cancellationToken)
        {
            await WritePendingAsync();
            await lifecycle.StartStepAsync(stepIds[index], log.Position, CancellationToken.None);
        }

        public async Task StepFinishedAsync(StepOutcome outcome, CancellationToken cancellationToken)
        {
            await log.FlushAsync(CancellationToken.None);
            await WritePendingAsync();
            Unreported = new StepReport(stepIds[outcome.Index], new AttemptOutcome(ToStatus(outcome.Outcome), outcome.ExitCode, outcome.Reason), log.Position);
        }

        private async Task WritePendingAsync()
        {
            if (Unreported is { } previous)
            {
                Unreported = null;
                await lifecycle.FinishStepAsync(previous.StepId, previous.Outcome, previous.LogEnd, CancellationToken.None);
            }
        }

        public void Line(ReadOnlySpan<char> text, OutputChannel stream) => log.AppendLine(time.GetUtcNow(), text);
    }
}
