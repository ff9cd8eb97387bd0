using System.Globalization;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Workflow;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Runtime;

internal sealed partial class JobRun
{
    /// <summary>What running a step gave, before continue-on-error.</summary>
    private sealed record StepRun(Conclusion Outcome, int? ExitCode, string? Reason, Dictionary<string, string> Outputs);

    /// <summary>The name shown when <c>name:</c> is absent (or fails): <c>Run</c> and the script's first line, or the action.</summary>
    private static string DefaultName(WorkflowStep step)
    {
        if (step.Run is not null)
        {
            var first = step.Run.Text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
            return ("Run " + first).TrimEnd();
        }
        return step.Uses ?? $"step {step.Index + 1}";
    }

    /// <summary>The background-step key a step uses, if any: parsed, but not run yet.</summary>
    private static string? BackgroundKey(WorkflowStep step) =>
        step.Background is { } b && !string.Equals(b.Text.Trim(), "false", StringComparison.OrdinalIgnoreCase) ? "background"
        : step.Wait is { Count: > 0 } ? "wait"
        : step.WaitAll ? "wait-all"
        : step.Cancel is not null ? "cancel"
        : null;

    /// <summary>Evaluates the step's env, name and <c>if</c>; then runs it, or reports it skipped.</summary>
    private async Task RunStepAsync(WorkflowStep step, int index, CancellationToken stop)
    {
        var name = DefaultName(step);
        string? problem = null; // an evaluation error, reported only if the step was to run
        var env = JobLevelEnv();
        _contexts.SetJobStatus(JobStatus());
        _contexts.EnterStep(step.Id ?? (index == 0 ? "__run" : $"__run_{index + 1}"), null);
        try
        {
            foreach (var (k, v) in EvaluateEnv(step.Env, "env", ContextAvailability.Step, _contexts.For(env))) env[k] = v;
            if (step.Name is not null) name = TemplateEvaluation.String(step.Name, "name", ContextAvailability.Step, _contexts.For(env));
        }
        catch (KeyEvaluationException e)
        {
            problem = e.Message;
        }

        name = _masker.Apply(name); // a name may be built from secrets
        if (problem is null && BackgroundKey(step) is { } key)
        {
            problem = $"{step.Pos}: '{key}' (background steps) is not supported yet";
        }
        bool runs;
        try
        {
            runs = TemplateEvaluation.Condition(step.If, "if", ContextAvailability.StepIf, _contexts.For(env, this));
        }
        catch (KeyEvaluationException e)
        {
            (runs, problem) = (true, e.Message);
        }
        if (!runs)
        {
            await FinishAsync(Skipped(index, name), step.Id);
            return;
        }

        await _reporter.StepStartingAsync(index, name, CancellationToken.None);
        var output = new StepOutput(index, _masker, _reporter.Output, _annotations);
        var continueOnError = false;
        var run = new StepRun(Conclusion.Failure, null, problem, []);
        if (problem is null)
        {
            try
            {
                var context = _contexts.For(env);
                continueOnError = TemplateEvaluation.Flag(step.ContinueOnError, "continue-on-error", ContextAvailability.Step, context);
                var minutes = TemplateEvaluation.Minutes(step.TimeoutMinutes, "timeout-minutes", ContextAvailability.Step, context);
                run = await RunWithTimeoutAsync(step, index, name, env, minutes, output, stop);
            }
            catch (KeyEvaluationException e)
            {
                run = new StepRun(Conclusion.Failure, null, e.Message, []);
            }
        }
        var conclusion = continueOnError && run.Outcome is Conclusion.Failure or Conclusion.TimedOut ? Conclusion.Success : run.Outcome;
        if (run.Reason is not null && run.Outcome != Conclusion.Success)
        {
            output.Note((run.Outcome == Conclusion.Cancelled ? "" : "Error: ") + run.Reason);
        }
        var reason = run.Reason is null ? null : _masker.Apply(run.Reason);
        await FinishAsync(new StepOutcome(index, name, run.Outcome, conclusion, run.ExitCode, reason), step.Id, run.Outputs);
    }

    private async Task<StepRun> RunWithTimeoutAsync(WorkflowStep step, int index, string name, Dictionary<string, string> env,
        double? minutes, StepOutput output, CancellationToken stop)
    {
        using var timeout = minutes is { } m ? new CancellationTokenSource(TimeSpan.FromMinutes(m), _time) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        StepRun StoppedRun() => timeout.IsCancellationRequested && !stop.IsCancellationRequested
            ? new StepRun(Conclusion.TimedOut, null, $"step '{name}' timed out after {minutes!.Value.ToString(CultureInfo.InvariantCulture)} minutes", [])
            : new StepRun(Conclusion.Cancelled, null, _cancellation.IsCancellationRequested ? "the step was cancelled" : JobTimeoutReason, []);
        try
        {
            var files = FileCommands.Create(_execution, index);
            _contexts.EnterStep(_contexts.Action, files.Paths);
            var run = step.Run is not null
                ? await RunScriptAsync(step, index, name, env, files, output, linked.Token)
                : await RunKindAsync(step, name, env, files, output, linked.Token);
            if (run.Outcome == Conclusion.Cancelled || (linked.IsCancellationRequested && run.Outcome != Conclusion.Success))
            {
                run = StoppedRun() with { Outputs = run.Outputs };
            }
            return ReadFileCommands(run, files, output);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            return StoppedRun();
        }
        catch (Exception e) when (e is not (OutOfMemoryException or KeyEvaluationException))
        {
            _logger.LogWarning(e, "Step {Index} of job {Job} failed in the runtime", index, _spec.JobId);
            return new StepRun(Conclusion.Failure, null, $"step '{name}' could not run: {e.Message}", []);
        }
    }

    private async Task<StepRun> RunScriptAsync(WorkflowStep step, int index, string name, Dictionary<string, string> env,
        FileCommands files, StepOutput output, CancellationToken token)
    {
        var context = _contexts.For(env);
        var shellText = step.Shell is not null
            ? TemplateEvaluation.String(step.Shell, "shell", ContextAvailability.Step, context)
            : _spec.Defaults?.Shell is { } ds ? TemplateEvaluation.String(ds, "defaults.run.shell", ContextAvailability.DefaultsRun, context) : null;
        var directory = step.WorkingDirectory is not null
            ? TemplateEvaluation.String(step.WorkingDirectory, "working-directory", ContextAvailability.Step, context)
            : _spec.Defaults?.WorkingDirectory is { } dw ? TemplateEvaluation.String(dw, "defaults.run.working-directory", ContextAvailability.DefaultsRun, context) : null;
        var script = TemplateEvaluation.String(step.Run!, "run", ContextAvailability.Step, context);

        var prepend = Enumerable.Reverse(_addedPath).ToList();
        var searchPath = string.Join(':', [.. prepend, env.GetValueOrDefault("PATH") ?? Environment.GetEnvironmentVariable("PATH") ?? ""]);
        var shell = Shells.Resolve(shellText, program => Shells.Exists(program, searchPath), out var shellFailure);
        if (shell is null) return new StepRun(Conclusion.Failure, null, shellFailure, []);

        string? workingDirectory = null;
        if (!string.IsNullOrWhiteSpace(directory))
        {
            workingDirectory = directory.StartsWith('/') ? directory : $"{_execution.Workspace}/{directory}";
            if (!await _execution.DirectoryExistsAsync(workingDirectory, token))
            {
                return new StepRun(Conclusion.Failure, null, $"working-directory '{directory}' does not exist", []);
            }
        }
        var executionStep = new ExecutionStep(index, name, shell.Wrap(script), StepEnvironment(env, files), shell.Command,
            shell.Extension, workingDirectory, prepend);
        var result = await _execution.RunStepAsync(executionStep, output, token);
        if (result.Cancelled) return new StepRun(Conclusion.Cancelled, result.ExitCode, null, []);
        return result.ExitCode == 0
            ? new StepRun(Conclusion.Success, 0, null, [])
            : new StepRun(Conclusion.Failure, result.ExitCode, $"step '{name}' exited with code {result.ExitCode}" + (result.FailureReason is { } why ? $": {why}" : ""), []);
    }

    private async Task<StepRun> RunKindAsync(WorkflowStep step, string name, Dictionary<string, string> env,
        FileCommands files, StepOutput output, CancellationToken token)
    {
        if (step.Kind is null || !_handlers.TryGetValue(step.Kind, out var handler))
        {
            var reason = step.Uses is null ? "the step has neither run nor uses" : $"no handler for step kind '{step.Kind ?? step.Uses}'";
            return new StepRun(Conclusion.Failure, null, reason, []);
        }
        var context = _contexts.For(env);
        var with = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in step.With) with[key] = TemplateEvaluation.String(value, $"with.{key}", ContextAvailability.Step, context);
        var result = await handler.RunAsync(new StepKindInvocation(step, name, with, StepEnvironment(env, files), _execution, output), token);
        return result.Succeeded
            ? new StepRun(Conclusion.Success, null, null, new Dictionary<string, string>(result.Outputs, StringComparer.Ordinal))
            : new StepRun(Conclusion.Failure, null, result.Reason ?? $"'{step.Uses}' failed", new Dictionary<string, string>(result.Outputs, StringComparer.Ordinal));
    }

    /// <summary>The process environment: defaults, then the env in effect (workflow, job, GITHUB_ENV, step), then
    /// GitHub's own variables again (an env cannot override GITHUB_* or RUNNER_*), then this step's files.</summary>
    private Dictionary<string, string> StepEnvironment(Dictionary<string, string> env, FileCommands files)
    {
        var result = new Dictionary<string, string>(_defaults, StringComparer.Ordinal);
        foreach (var (k, v) in env) result[k] = v;
        foreach (var (k, v) in _defaults.Where(d => DefaultEnvironment.IsProtected(d.Key))) result[k] = v;
        foreach (var (k, v) in files.Paths) result[k] = v;
        result["GITHUB_ACTION"] = _contexts.Action;
        return result;
    }

    /// <summary>Acts on what the step wrote to its command files (also when it failed, as GitHub does); a file
    /// that does not parse fails the step.</summary>
    private StepRun ReadFileCommands(StepRun run, FileCommands files, StepOutput output)
    {
        var outputs = new Dictionary<string, string>(run.Outputs, StringComparer.Ordinal);
        foreach (var (k, v) in output.Outputs) outputs[k] = v;
        string? failure = output.Failure;

        var env = new List<KeyValuePair<string, string>>();
        if (FileCommands.ParseKeyValues(files.Read("GITHUB_ENV"), env) is { } envError) failure ??= "GITHUB_ENV: " + envError;
        foreach (var (k, v) in env)
        {
            if (DefaultEnvironment.IsProtected(k) || k == "NODE_OPTIONS") output.Warn($"Can't set environment variable '{k}' through GITHUB_ENV.");
            else _fileEnv[k] = v;
        }

        var values = new List<KeyValuePair<string, string>>();
        if (FileCommands.ParseKeyValues(files.Read("GITHUB_OUTPUT"), values) is { } outputError) failure ??= "GITHUB_OUTPUT: " + outputError;
        foreach (var (k, v) in values) outputs[k] = v;

        if (FileCommands.ParseKeyValues(files.Read("GITHUB_STATE"), []) is { } stateError) failure ??= "GITHUB_STATE: " + stateError;

        foreach (var line in files.Read("GITHUB_PATH").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            _addedPath.Remove(line);
            _addedPath.Add(line);
        }

        if (files.Size("GITHUB_STEP_SUMMARY") > FileCommands.MaxSummaryBytes)
        {
            output.Warn($"The step summary is larger than {FileCommands.MaxSummaryBytes / 1024} KiB and was not kept.");
        }
        else if (files.Read("GITHUB_STEP_SUMMARY") is { Length: > 0 } summary)
        {
            if (_summary.Length > 0 && _summary[^1] != '\n') _summary.Append('\n');
            _summary.Append(_masker.Apply(summary));
        }

        return failure is not null && run.Outcome == Conclusion.Success
            ? new StepRun(Conclusion.Failure, run.ExitCode, failure, outputs)
            : run with { Outputs = outputs };
    }
}
