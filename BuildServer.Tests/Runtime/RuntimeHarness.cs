using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Runtime;
using BuildServer.Modules.Runtime.StepKinds;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Runtime;

/// <summary>A job run on the real shell executor in a temporary data folder, reported to a <see cref="RecordingReporter"/>.</summary>
internal sealed class RuntimeHarness : IAsyncDisposable
{
    private readonly string _dataRoot = Path.Combine(Path.GetTempPath(), "buildserver-runtime-" + Guid.NewGuid().ToString("N"));
    private readonly ShellExecutor _executor;
    private static long _attempt;

    public RuntimeHarness()
    {
        var options = Options.Create(new ShellExecutorOptions { KillGrace = TimeSpan.FromSeconds(1) });
        _executor = new ShellExecutor(new DataDirectory(_dataRoot), options, NullLogger<ShellExecutor>.Instance);
    }

    public RecordingReporter Reporter { get; } = new();

    public IExecution Execution { get; private set; } = null!;

    /// <summary>Lets a test put a decorator between the runner and the real execution.</summary>
    public Func<IExecution, IExecution>? WrapExecution { get; set; }

    public List<IStepKindHandler> Handlers { get; } = [.. NotYetAvailableStepKind.Kinds.Select(k => new NotYetAvailableStepKind(k))];

    public async Task<IExecution> PrepareAsync()
    {
        Execution ??= await _executor.PrepareAsync(new ExecutionRequest(Interlocked.Increment(ref _attempt), new Dictionary<string, string>()), CancellationToken.None);
        return Execution;
    }

    public async Task<JobOutcome> RunAsync(JobSpec spec, JobContext? context = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        await PrepareAsync();
        var runner = new JobRunner(Handlers, Options.Create(new JobRunnerOptions { RunnerName = "test-runner" }),
            time ?? TimeProvider.System, NullLogger<JobRunner>.Instance);
        var execution = WrapExecution?.Invoke(Execution) ?? Execution;
        return await runner.RunAsync(spec, context ?? Contexts.Default(), execution, Reporter, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Execution is not null) await Execution.DisposeAsync();
        Directory.Delete(_dataRoot, recursive: true);
    }
}

internal static class Contexts
{
    public static JobContext Default(IReadOnlyDictionary<string, string>? secrets = null) => new(
        new JsonObject
        {
            ["event_name"] = "push",
            ["ref"] = "refs/heads/main",
            ["ref_name"] = "main",
            ["sha"] = "0123456789abcdef0123456789abcdef01234567",
            ["repository"] = "acme/widgets",
            ["run_id"] = "42",
            ["run_number"] = "7",
            ["run_attempt"] = "1",
            ["actor"] = "octo",
            ["workflow"] = "CI",
            ["server_url"] = "http://localhost:5000",
            ["event"] = new JsonObject { ["ref"] = "refs/heads/main", ["head_commit"] = new JsonObject { ["message"] = "hello" } },
        },
        new JsonObject { ["level"] = "debug" },
        new JsonObject { ["REGION"] = "eu" },
        new JsonObject { ["setup"] = new JsonObject { ["result"] = "success", ["outputs"] = new JsonObject { ["version"] = "1.2" } } },
        secrets ?? new Dictionary<string, string>());
}

/// <summary>Builds job specs in code; each step's values sit at line 10 + index, column 9, in an imagined file.</summary>
internal sealed class JobBuilder
{
    private readonly List<WorkflowStep> _steps = [];
    private readonly Dictionary<string, Template> _workflowEnv = [];
    private readonly Dictionary<string, Template> _env = [];
    private readonly Dictionary<string, Template> _outputs = [];
    private RunDefaults? _defaults;
    private int _timeoutMinutes = 360;
    private JsonObject? _matrix;

    public static SourcePos PosOf(int stepIndex) => new(10 + stepIndex, 9);

    public static Template T(string text, SourcePos pos = default) => new(text, pos == default ? new SourcePos(1, 1) : pos);

    public JobBuilder WorkflowEnv(string name, string value) => Set(_workflowEnv, name, value);

    public JobBuilder Env(string name, string value) => Set(_env, name, value);

    public JobBuilder Output(string name, string value) => Set(_outputs, name, value);

    public JobBuilder Defaults(string? shell = null, string? workingDirectory = null)
    {
        _defaults = new RunDefaults(shell is null ? null : T(shell), workingDirectory is null ? null : T(workingDirectory));
        return this;
    }

    public JobBuilder TimeoutMinutes(int minutes)
    {
        _timeoutMinutes = minutes;
        return this;
    }

    public JobBuilder Matrix(JsonObject matrix)
    {
        _matrix = matrix;
        return this;
    }

    public JobBuilder Run(string script, string? id = null, string? name = null, string? @if = null, string? shell = null,
        string? workingDirectory = null, Dictionary<string, string>? env = null, string? continueOnError = null, string? timeoutMinutes = null) =>
        Step(script, null, null, id, name, @if, shell, workingDirectory, env, continueOnError, timeoutMinutes, null);

    public JobBuilder Uses(string uses, string? kind, string? id = null, string? @if = null, Dictionary<string, string>? with = null) =>
        Step(null, uses, kind, id, null, @if, null, null, null, null, null, with);

    public JobSpec Build() => new(
        "CI", "build", "build", _matrix, new JsonObject { ["fail-fast"] = true, ["job-index"] = 0, ["job-total"] = 1 }, [], null,
        ["linux"], Priority.Normal, _timeoutMinutes, false, null, null, _workflowEnv, _env, _defaults, null,
        new Dictionary<string, ContainerSpec>(), _outputs, _steps);

    private JobBuilder Step(string? run, string? uses, string? kind, string? id, string? name, string? @if, string? shell,
        string? workingDirectory, Dictionary<string, string>? env, string? continueOnError, string? timeoutMinutes, Dictionary<string, string>? with)
    {
        var index = _steps.Count;
        var pos = PosOf(index);
        Template? Tpl(string? text) => text is null ? null : new Template(text, pos);
        _steps.Add(new WorkflowStep(index, pos, id, Tpl(name), Tpl(@if), Tpl(run), Tpl(shell), Tpl(workingDirectory),
            (env ?? []).ToDictionary(e => e.Key, e => new Template(e.Value, pos)), Tpl(continueOnError), Tpl(timeoutMinutes),
            uses, kind, (with ?? []).ToDictionary(e => e.Key, e => new Template(e.Value, pos))));
        return this;
    }

    private JobBuilder Set(Dictionary<string, Template> into, string name, string value)
    {
        into[name] = T(value);
        return this;
    }
}

/// <summary>Records what a job reports: step starts and ends in order, and every output line.</summary>
internal sealed class RecordingReporter : IJobReporter, IOutputSink
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<string> _events = [];

    public IOutputSink Output => this;

    public IReadOnlyList<string> Lines => [.. _lines];

    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_events) return [.. _events];
        }
    }

    public Task StepStartingAsync(int index, string name, CancellationToken cancellationToken)
    {
        lock (_events) _events.Add($"start {index} {name}");
        return Task.CompletedTask;
    }

    public Task StepFinishedAsync(StepOutcome outcome, CancellationToken cancellationToken)
    {
        lock (_events) _events.Add($"finish {outcome.Index} {outcome.Conclusion}");
        return Task.CompletedTask;
    }

    public void Line(ReadOnlySpan<char> text, OutputChannel stream) => _lines.Enqueue(text.ToString());

    /// <summary>Waits until a line equal to <paramref name="text"/> was written.</summary>
    public Task WaitForLineAsync(string text) =>
        Eventually.Until(() => _lines.Contains(text), TimeSpan.FromSeconds(20), $"the line '{text}'");
}
