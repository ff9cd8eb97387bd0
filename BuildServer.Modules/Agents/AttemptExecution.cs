using System.Globalization;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Runs;
using BuildServer.Modules.Runs.Logs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Agents;

/// <summary>Runs one claimed attempt on the executor: steps in order, output into the attempt's log, every
/// change reported through <see cref="IAttemptLifecycle"/>. The first failing step fails the attempt and the
/// remaining steps are skipped.</summary>
internal sealed class AttemptExecution(
    IServiceScopeFactory scopes,
    IExecutor executor,
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
            if (await lifecycle.IsCancelRequestedAsync(claim.RunId, stoppingToken))
            {
                await lifecycle.CompleteAttemptAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "the run was cancelled"), null, CancellationToken.None);
                return;
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancelled, stoppingToken);
            var (outcome, lastStep) = await RunStepsAsync(lifecycle, runner, claim, stop.Token);
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

    /// <summary>Runs the steps in order until one fails or the attempt is stopped. Each step's end is written
    /// when the next step starts; the last one's goes with the attempt's completion (one write fewer per job).</summary>
    private async Task<(AttemptOutcome Outcome, StepReport? LastStep)> RunStepsAsync(
        IAttemptLifecycle lifecycle, RunnerRef runner, ClaimedAttempt claim, CancellationToken stop)
    {
        await using var log = logs.OpenWriter(claim.RunId, claim.AttemptId);
        var sink = new LogSink(log, time);
        await using var execution = await executor.PrepareAsync(new ExecutionRequest(claim.AttemptId, JobEnvironment(runner, claim)), stop);
        StepReport? previous = null;
        for (var i = 0; i < claim.Spec.Steps.Count; i++)
        {
            if (stop.IsCancellationRequested)
            {
                return (new AttemptOutcome(Status.Cancelled, null, "cancelled before step " + (i + 1)), previous);
            }
            var spec = claim.Spec.Steps[i];
            if (previous is not null)
            {
                await lifecycle.FinishStepAsync(previous.StepId, previous.Outcome, previous.LogEnd, CancellationToken.None);
            }
            await lifecycle.StartStepAsync(claim.StepIds[i], log.Position, CancellationToken.None);
            var result = await execution.RunStepAsync(new ExecutionStep(i, spec.Name, spec.Run, spec.Env), sink, stop);
            var status = result.Cancelled ? Status.Cancelled : result.ExitCode == 0 ? Status.Succeeded : Status.Failed;
            AttemptOutcome? failure = null;
            if (status != Status.Succeeded)
            {
                var reason = result.Cancelled ? $"cancelled during step '{spec.Name}'" : $"step '{spec.Name}' exited with code {result.ExitCode}";
                sink.Line(reason, OutputChannel.Stderr);
                failure = new AttemptOutcome(status, result.ExitCode, reason);
            }
            await log.FlushAsync(CancellationToken.None);
            previous = new StepReport(claim.StepIds[i], new AttemptOutcome(status, result.ExitCode), log.Position);
            if (failure is not null)
            {
                return (failure, previous);
            }
        }
        return (new AttemptOutcome(Status.Succeeded, 0), previous);
    }

    /// <summary>The default environment of every step (GitHub-compatible names beside our own), under the pipeline's env.</summary>
    private static Dictionary<string, string> JobEnvironment(RunnerRef runner, ClaimedAttempt claim)
    {
        var inv = CultureInfo.InvariantCulture;
        var env = new Dictionary<string, string>
        {
            ["CI"] = "true",
            ["BUILDSERVER"] = "true",
            ["BUILDSERVER_PROJECT"] = claim.Project,
            ["BUILDSERVER_RUN_ID"] = claim.RunId.ToString(inv),
            ["BUILDSERVER_RUN_NUMBER"] = claim.RunNumber.ToString(inv),
            ["BUILDSERVER_JOB"] = claim.JobKey,
            ["BUILDSERVER_ATTEMPT"] = claim.Number.ToString(inv),
            ["BUILDSERVER_RUNNER"] = runner.Name,
            ["GITHUB_ACTIONS"] = "false",
            ["GITHUB_RUN_ID"] = claim.RunId.ToString(inv),
            ["GITHUB_RUN_NUMBER"] = claim.RunNumber.ToString(inv),
            ["GITHUB_RUN_ATTEMPT"] = claim.Number.ToString(inv),
            ["GITHUB_JOB"] = claim.JobKey,
            ["RUNNER_NAME"] = runner.Name,
            ["RUNNER_OS"] = "Linux",
        };
        if (claim.Ref is { } r) env["GITHUB_REF"] = env["BUILDSERVER_REF"] = r;
        if (claim.Sha is { } s) env["GITHUB_SHA"] = env["BUILDSERVER_SHA"] = s;
        foreach (var (k, v) in claim.Spec.Env) env[k] = v;
        return env;
    }

    private sealed class LogSink(ILogWriter log, TimeProvider time) : IOutputSink
    {
        public void Line(ReadOnlySpan<char> text, OutputChannel stream) => log.AppendLine(time.GetUtcNow(), text);
    }
}
