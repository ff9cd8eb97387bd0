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
            if (!await lifecycle.StartAttemptAsync(claim.AttemptId, stoppingToken))
            {
                // Its run was cancelled between the claim and now (or the attempt is no longer ours).
                await lifecycle.CompleteAttemptAsync(claim.AttemptId, new AttemptOutcome(Status.Cancelled, null, "the run was cancelled"), CancellationToken.None);
                return;
            }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancelled, stoppingToken);
            var outcome = await RunStepsAsync(lifecycle, runner, claim, stop.Token);
            if (stoppingToken.IsCancellationRequested && !cancelled.IsCancellationRequested)
            {
                outcome = new AttemptOutcome(Status.Lost, null, "the server stopped while the attempt was running");
            }
            await lifecycle.CompleteAttemptAsync(claim.AttemptId, outcome, CancellationToken.None);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(e, "Attempt {AttemptId} failed in the agent", claim.AttemptId);
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IAttemptLifecycle>().CompleteAttemptAsync(claim.AttemptId,
                new AttemptOutcome(Status.Failed, null, "agent error: " + e.Message), CancellationToken.None);
        }
        finally
        {
            cancellation.Release(claim.AttemptId);
        }
    }

    private async Task<AttemptOutcome> RunStepsAsync(IAttemptLifecycle lifecycle, RunnerRef runner, ClaimedAttempt claim, CancellationToken stop)
    {
        await using var log = logs.OpenWriter(claim.RunId, claim.AttemptId);
        var sink = new LogSink(log, time);
        await using var execution = await executor.PrepareAsync(new ExecutionRequest(claim.AttemptId, JobEnvironment(runner, claim)), stop);
        AttemptOutcome? failure = null;
        for (var i = 0; i < claim.Spec.Steps.Count; i++)
        {
            var spec = claim.Spec.Steps[i];
            var stepId = claim.StepIds[i];
            if (failure is not null || stop.IsCancellationRequested)
            {
                failure ??= new AttemptOutcome(Status.Cancelled, null, "cancelled before step " + (i + 1));
                await lifecycle.FinishStepAsync(stepId, new AttemptOutcome(failure.Status == Status.Cancelled ? Status.Cancelled : Status.Skipped), log.Position, CancellationToken.None);
                continue;
            }
            await lifecycle.StartStepAsync(stepId, log.Position, CancellationToken.None);
            var result = await execution.RunStepAsync(new ExecutionStep(i, spec.Name, spec.Run, spec.Env), sink, stop);
            var status = result.Cancelled ? Status.Cancelled : result.ExitCode == 0 ? Status.Succeeded : Status.Failed;
            if (status != Status.Succeeded)
            {
                var reason = result.Cancelled ? $"cancelled during step '{spec.Name}'" : $"step '{spec.Name}' exited with code {result.ExitCode}";
                sink.Line(reason, OutputChannel.Stderr);
                failure = new AttemptOutcome(status, result.ExitCode, reason);
            }
            await log.FlushAsync(CancellationToken.None);
            await lifecycle.FinishStepAsync(stepId, new AttemptOutcome(status, result.ExitCode), log.Position, CancellationToken.None);
        }
        return failure ?? new AttemptOutcome(Status.Succeeded, 0);
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
