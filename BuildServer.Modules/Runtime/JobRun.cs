using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Expressions;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// One job being run (see <see cref="IJobRunner"/>): the state its steps share (env from GITHUB_ENV, PATH
/// additions, the steps context, masks, annotations, the summary) and the job-level phases: set up, steps, job
/// outputs, conclusion. Used once, from one thread of control.
/// </summary>
internal sealed partial class JobRun : IExpressionStatus
{
    private const int DefaultJobTimeoutMinutes = 360;

    private readonly JobSpec _spec;
    private readonly JobContext _context;
    private readonly IExecution _execution;
    private readonly IJobReporter _reporter;
    private readonly IReadOnlyDictionary<string, IStepKindHandler> _handlers;
    private readonly JobRunnerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RunnerInfo _runner;

    private readonly SecretMasker _masker = new();
    private readonly List<Annotation> _annotations = [];
    private readonly List<StepOutcome> _outcomes = [];
    private readonly StringBuilder _summary = new();
    private readonly Dictionary<string, string> _fileEnv = new(StringComparer.Ordinal); // GITHUB_ENV of earlier steps
    private readonly List<string> _addedPath = []; // GITHUB_PATH lines, oldest first

    private Dictionary<string, string> _defaults = [];
    private Dictionary<string, string> _workflowEnv = [];
    private Dictionary<string, string> _jobEnv = [];
    private JobContexts _contexts = null!;
    private CancellationToken _jobStop;
    private CancellationToken _cancellation;
    private double _timeoutMinutes;
    private bool _failed;
    private string? _outputsFailure;

    public JobRun(JobSpec spec, JobContext context, IExecution execution, IJobReporter reporter,
        IReadOnlyDictionary<string, IStepKindHandler> handlers, JobRunnerOptions options, RunnerInfo runner, TimeProvider time, ILogger logger)
    {
        (_spec, _context, _execution, _reporter, _handlers, _options, _runner, _time, _logger) =
            (spec, context, execution, reporter, handlers, options, runner, time, logger);
    }

    // IExpressionStatus: what success(), failure() and cancelled() say for the next step.
    public bool Success => !_failed && !Cancelled;

    public bool Failure => _failed;

    public bool Cancelled => _jobStop.IsCancellationRequested;

    public async Task<JobOutcome> RunAsync(CancellationToken cancellationToken)
    {
        foreach (var secret in _context.Secrets.Values) _masker.Add(secret);
        var timeoutMinutes = _timeoutMinutes = _spec.TimeoutMinutes > 0 ? _spec.TimeoutMinutes : DefaultJobTimeoutMinutes;
        _cancellation = cancellationToken;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(timeoutMinutes), _time);
        using var jobStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        _jobStop = jobStop.Token;
        CancellationTokenSource? afterStop = null;
        try
        {
            var setupFailure = SetUp();
            for (var i = 0; i < _spec.Steps.Count; i++)
            {
                if (setupFailure is not null)
                {
                    await FinishAsync(Skipped(i, DefaultName(_spec.Steps[i])), null);
                    continue;
                }
                // Once the job is stopped, the steps that still run (always(), cancelled()) get their own,
                // bounded time instead of the stopped token.
                if (_jobStop.IsCancellationRequested) afterStop ??= new CancellationTokenSource(_options.CancelTimeout, _time);
                await RunStepAsync(_spec.Steps[i], i, afterStop?.Token ?? _jobStop);
            }
            var outputs = setupFailure is null ? JobOutputs() : new Dictionary<string, string>();
            return Conclude(setupFailure ?? _outputsFailure, outputs, cancellationToken);
        }
        finally
        {
            afterStop?.Dispose();
        }
    }

    /// <summary>Writes the event file and evaluates the env of the workflow and the job; null, or why the job cannot run.</summary>
    private string? SetUp()
    {
        var eventPath = $"{_execution.TempFolder}/_github_workflow/event.json";
        _defaults = DefaultEnvironment.Create(_spec, _context, _execution.Workspace, eventPath, _runner);
        _contexts = new JobContexts(_spec, _context, _runner, _execution.Workspace, _execution.ToHostPath(_execution.Workspace), eventPath);
        try
        {
            var hostEvent = _execution.ToHostPath(eventPath);
            Directory.CreateDirectory(Path.GetDirectoryName(hostEvent)!);
            File.WriteAllText(hostEvent, _context.Github["event"]?.ToJsonString() ?? "{}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"could not write the event file: {e.Message}");
        }
        try
        {
            _workflowEnv = EvaluateEnv(_spec.WorkflowEnv, "env", ContextAvailability.WorkflowEnv, _contexts.For(null));
            _jobEnv = EvaluateEnv(_spec.Env, "jobs." + _spec.JobId + ".env", ContextAvailability.JobEnv, _contexts.For(null));
            return null;
        }
        catch (KeyEvaluationException e)
        {
            return Fail(e.Message);
        }

        string Fail(string reason)
        {
            new StepOutput(-1, _masker, _reporter.Output, _annotations).Note("Error: " + reason);
            return reason;
        }
    }

    private static Dictionary<string, string> EvaluateEnv(IReadOnlyDictionary<string, Template> env, string key,
        ExpressionParseOptions options, EvaluationContext context)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in env) result[name] = TemplateEvaluation.String(value, $"{key}.{name}", options, context);
        return result;
    }

    /// <summary>The env context in effect outside a step's own env: workflow, then job, then GITHUB_ENV of earlier steps.</summary>
    private Dictionary<string, string> JobLevelEnv()
    {
        var env = new Dictionary<string, string>(_workflowEnv, StringComparer.Ordinal);
        foreach (var (k, v) in _jobEnv) env[k] = v;
        foreach (var (k, v) in _fileEnv) env[k] = v;
        return env;
    }

    /// <summary>The job's <c>outputs:</c>; a value that would reveal a secret or a mask is left out, with a warning.</summary>
    private Dictionary<string, string> JobOutputs()
    {
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        var note = new StepOutput(-1, _masker, _reporter.Output, _annotations);
        _contexts.SetJobStatus(JobStatus());
        var context = _contexts.For(JobLevelEnv(), this);
        foreach (var (name, template) in _spec.Outputs)
        {
            try
            {
                var value = TemplateEvaluation.String(template, $"jobs.{_spec.JobId}.outputs.{name}", ContextAvailability.JobOutputs, context);
                if (_masker.Reveals(value)) note.Warn($"Skip output '{name}' since it may contain secret.");
                else outputs[name] = value;
            }
            catch (KeyEvaluationException e)
            {
                note.Note("Error: " + e.Message);
                _outputsFailure ??= e.Message;
            }
        }
        return outputs;
    }

    private string JobTimeoutReason => $"the job timed out after {_timeoutMinutes.ToString(CultureInfo.InvariantCulture)} minutes";

    private string JobStatus() => Cancelled ? "cancelled" : _failed ? "failure" : "success";

    private JobOutcome Conclude(string? failure, Dictionary<string, string> outputs, CancellationToken cancellationToken)
    {
        var firstFailed = _outcomes.FirstOrDefault(o => o.Conclusion is Conclusion.Failure or Conclusion.TimedOut);
        var (conclusion, reason, exitCode) =
            Cancelled && !cancellationToken.IsCancellationRequested
                ? (Conclusion.TimedOut, JobTimeoutReason, (int?)null)
            : Cancelled ? (Conclusion.Cancelled, "the job was cancelled", null)
            : firstFailed is not null ? (Conclusion.Failure, firstFailed.Reason, firstFailed.ExitCode)
            : failure is not null ? (Conclusion.Failure, failure, null)
            : (Conclusion.Success, null, 0);
        return new JobOutcome(conclusion, reason is null ? null : _masker.Apply(reason), exitCode, outputs, [.. _outcomes],
            [.. _annotations], _summary.Length == 0 ? null : _summary.ToString());
    }

    private async Task FinishAsync(StepOutcome outcome, string? id, IReadOnlyDictionary<string, string>? outputs = null)
    {
        _outcomes.Add(outcome);
        if (outcome.Conclusion is Conclusion.Failure or Conclusion.TimedOut) _failed = true;
        if (id is not null)
        {
            var outputNode = new JsonObject();
            foreach (var (k, v) in outputs ?? new Dictionary<string, string>()) outputNode[k] = v;
            _contexts.Steps[id] = new JsonObject
            {
                ["outputs"] = outputNode,
                ["outcome"] = ContextWord(outcome.Outcome),
                ["conclusion"] = ContextWord(outcome.Conclusion),
            };
        }
        await _reporter.StepFinishedAsync(outcome, CancellationToken.None);
    }

    // GitHub's words; a timed-out step is a failed one there.
    private static string ContextWord(Conclusion conclusion) => conclusion switch
    {
        Conclusion.Success => "success",
        Conclusion.Skipped => "skipped",
        Conclusion.Cancelled => "cancelled",
        _ => "failure",
    };

    private static StepOutcome Skipped(int index, string name) => new(index, name, Conclusion.Skipped, Conclusion.Skipped, null, null);
}
