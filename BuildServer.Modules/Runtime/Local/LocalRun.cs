using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Hosting;
using BuildServer.Modules.Pipelines;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Runtime.Local;

/// <param name="File">The workflow file.</param>
/// <param name="Job">Run only this job (and the jobs it needs, transitively); null for all.</param>
/// <param name="Matrix">Run only the matrix combinations with these values (<c>--matrix os=linux</c>).</param>
/// <param name="Workspace">The folder the steps run in; the current directory by default.</param>
public sealed record LocalRunOptions(
    string File,
    string? Job,
    IReadOnlyList<KeyValuePair<string, string>> Matrix,
    IReadOnlyDictionary<string, string> Inputs,
    IReadOnlyDictionary<string, string> Secrets,
    IReadOnlyDictionary<string, string> Env,
    string Workspace);

/// <summary>
/// <c>buildserver run</c>: executes a workflow on this machine with the server's own planner, job runtime and
/// shell executor, without a server or a database. Jobs run one at a time in dependency order; output is
/// prefixed with the job's name; a summary table ends the run. Exit code 0 only when the run succeeded.
/// </summary>
public static class LocalRun
{
    public const int Succeeded = 0;
    public const int Failed = 1;
    public const int Cancelled = 130;

    public static async Task<int> RunAsync(LocalRunOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var console = new ConsoleReport(output);
        var text = WorkflowFiles.Read(options.File, out var readError);
        if (text is null)
        {
            console.Line($"{options.File}: {readError}");
            return Failed;
        }
        var parsed = WorkflowFiles.CreateParser().Parse(text);
        if (!parsed.IsValid)
        {
            foreach (var error in parsed.Errors) console.Line($"{options.File}:{error}");
            return Failed;
        }
        var workflow = parsed.Workflow!;
        var (inputs, inputErrors) = DispatchInputs.Resolve(workflow, options.Inputs);
        foreach (var error in inputErrors) console.Line($"{options.File}: {error.Field}: {error.Message}");
        if (inputErrors.Count > 0) return Failed;

        var templates = Planner.Templates(workflow).ToList();
        if (options.Job is { } only)
        {
            if (templates.All(t => t.Job.Id != only))
            {
                console.Line($"{options.File}: there is no job '{only}'; the jobs are: {string.Join(", ", templates.Select(t => t.Job.Id))}");
                return Failed;
            }
            var keep = Closure(templates, only);
            templates = templates.Where(t => keep.Contains(t.Job.Id)).ToList();
        }
        if (options.Env.Count > 0)
        {
            var env = new Dictionary<string, Template>(workflow.Env);
            foreach (var (k, v) in options.Env) env[k] = new Template(v, new SourcePos(1, 1));
            templates = templates.Select(t => t with { WorkflowEnv = env }).ToList();
        }

        var dataRoot = Path.Combine(Path.GetTempPath(), $"buildserver-run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        await using var services = Services(dataRoot);
        try
        {
            var runner = new Orchestrator(options, workflow, templates, inputs, services, console);
            return await runner.RunAsync(cancellationToken);
        }
        finally
        {
            TryDelete(dataRoot);
        }
    }

    private static ServiceProvider Services(string dataRoot)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["DataDir"] = dataRoot }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton(new DataDirectory(dataRoot));
        services.AddSingleton(TimeProvider.System);
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        new PipelinesModule().ConfigureServices(services, configuration);
        new ExecutorsModule().ConfigureServices(services, configuration);
        new RuntimeModule().ConfigureServices(services, configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>The job and everything it needs, transitively.</summary>
    private static HashSet<string> Closure(IReadOnlyList<JobTemplate> templates, string job)
    {
        var byId = templates.ToDictionary(t => t.Job.Id);
        var keep = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([job]);
        while (stack.TryPop(out var id))
        {
            if (keep.Add(id) && byId.TryGetValue(id, out var t))
            {
                foreach (var need in t.Job.Needs) stack.Push(need);
            }
        }
        return keep;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a step left something we cannot remove; it is in the temp folder
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>One finished job instance.</summary>
    private sealed record Finished(string JobId, string Name, Conclusion Conclusion, string Result, IReadOnlyDictionary<string, string> Outputs, TimeSpan Duration, string? Reason);

    private sealed class Orchestrator(
        LocalRunOptions options,
        Pipelines.Workflow.Workflow workflow,
        List<JobTemplate> templates,
        JsonObject inputs,
        ServiceProvider services,
        ConsoleReport console)
    {
        private readonly List<Finished> _finished = [];
        private long _attempts;

        public async Task<int> RunAsync(CancellationToken cancel)
        {
            var run = new RunContext(Github(), inputs, []);
            var executor = services.GetRequiredService<IExecutor>();
            var jobRunner = services.GetRequiredService<IJobRunner>();
            var done = new HashSet<string>(StringComparer.Ordinal);
            var stopwatch = Stopwatch.StartNew();
            while (done.Count < templates.Count)
            {
                var ready = templates.Where(t => !done.Contains(t.Job.Id) && t.Job.Needs.All(n => done.Contains(n) || templates.All(x => x.Job.Id != n))).ToList();
                if (ready.Count == 0) break; // cannot happen: the parser refuses cycles
                foreach (var template in ready)
                {
                    done.Add(template.Job.Id);
                    await RunTemplateAsync(template, run, executor, jobRunner, cancel);
                }
            }
            console.Summary(_finished.Select(f => (f.Name, f.Conclusion, f.Duration)).ToList(), stopwatch.Elapsed);
            if (cancel.IsCancellationRequested) return Cancelled;
            return _finished.Any(f => f.Result == "failure") ? Failed : Succeeded;
        }

        private async Task RunTemplateAsync(JobTemplate template, RunContext run, IExecutor executor, IJobRunner jobRunner, CancellationToken cancel)
        {
            var id = template.Job.Id;
            var needs = Planner.NeedsContext(template.Job.Needs, _finished.Select(f => new NeedResult(f.JobId, f.Result, f.Outputs)));
            var condition = Planner.ShouldRun(template, run, needs, cancel.IsCancellationRequested);
            if (condition.Error is not null || !condition.Run)
            {
                var conclusion = condition.Error is not null ? Conclusion.Failure : cancel.IsCancellationRequested ? Conclusion.Cancelled : Conclusion.Skipped;
                var reason = condition.Error is not null ? $"{options.File}:{condition.Error}" : template.Job.If is { } c ? $"'if: {c.Text}' was false" : "a job it needs did not succeed";
                Add(new Finished(id, id, conclusion, ResultOf(conclusion, false), new Dictionary<string, string>(), TimeSpan.Zero, reason));
                return;
            }
            var expansion = Planner.Expand(template, run, needs);
            if (expansion.Error is not null)
            {
                Add(new Finished(id, id, Conclusion.Failure, "failure", new Dictionary<string, string>(), TimeSpan.Zero, $"{options.File}:{expansion.Error}"));
                return;
            }
            var specs = expansion.Jobs.Where(MatchesMatrixFilter).ToList();
            if (specs.Count == 0)
            {
                var filter = string.Join(", ", options.Matrix.Select(p => $"{p.Key}={p.Value}"));
                Add(new Finished(id, id, Conclusion.Failure, "failure", new Dictionary<string, string>(), TimeSpan.Zero, $"no matrix combination of job '{id}' matches {filter}"));
                return;
            }
            var failFast = false;
            foreach (var spec in specs)
            {
                if (cancel.IsCancellationRequested || failFast)
                {
                    Add(new Finished(id, spec.Name, Conclusion.Cancelled, "cancelled", new Dictionary<string, string>(), TimeSpan.Zero,
                        failFast ? "fail-fast: a matrix sibling failed" : "the run was cancelled"));
                    continue;
                }
                var finished = await RunJobAsync(spec, run, needs, executor, jobRunner, cancel);
                Add(finished);
                failFast = finished.Result == "failure" && (spec.Strategy["fail-fast"]?.GetValue<bool>() ?? true) && spec.Matrix is not null;
            }
        }

        private bool MatchesMatrixFilter(JobSpec spec) =>
            options.Matrix.All(filter => spec.Matrix is null
                || (spec.Matrix.TryGetPropertyValue(filter.Key, out var value) && Display(value) == filter.Value));

        private static string Display(JsonNode? value) =>
            value is JsonValue v && v.TryGetValue(out string? s) ? s : value?.ToJsonString() ?? "";

        private async Task<Finished> RunJobAsync(JobSpec spec, RunContext run, JsonObject needs, IExecutor executor, IJobRunner jobRunner, CancellationToken cancel)
        {
            var started = Stopwatch.StartNew();
            var github = (JsonObject)run.Github.DeepClone();
            github["job"] = spec.JobId;
            var context = new JobContext(github, run.Inputs, run.Vars, needs, options.Secrets);
            var environment = new Dictionary<string, string> { ["RUNNER_NAME"] = "local", ["BUILDSERVER_RUNNER"] = "local" };
            var request = new ExecutionRequest(Interlocked.Increment(ref _attempts), environment)
            {
                Workspace = options.Workspace,
                Container = JobRequirements.ContainerOf(spec),
                Services = JobRequirements.ServicesOf(spec),
                MicroVm = JobRequirements.InMicroVm(spec),
            };
            console.JobStarting(spec.Name);
            if (JobRequirements.CannotRun(spec, executor) is { } unsupported)
            {
                return new Finished(spec.JobId, spec.Name, Conclusion.Failure, ResultOf(Conclusion.Failure, spec.ContinueOnError),
                    new Dictionary<string, string>(), TimeSpan.Zero, unsupported);
            }
            JobOutcome outcome;
            try
            {
                await using var execution = await executor.PrepareAsync(request, CancellationToken.None);
                outcome = await jobRunner.RunAsync(spec, context, execution, console.For(spec.Name), cancel);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ExecutorException)
            {
                outcome = new JobOutcome(Conclusion.Failure, "could not prepare the job: " + e.Message, null, new Dictionary<string, string>(), [], [], null);
            }
            var result = ResultOf(outcome.Conclusion, spec.ContinueOnError);
            return new Finished(spec.JobId, spec.Name, outcome.Conclusion, result, outcome.Outputs, started.Elapsed, outcome.Reason);
        }

        private void Add(Finished finished)
        {
            _finished.Add(finished);
            console.JobFinished(finished.Name, finished.Conclusion, finished.Duration, finished.Reason);
        }

        private static string ResultOf(Conclusion conclusion, bool continueOnError) => conclusion switch
        {
            Conclusion.Success => "success",
            Conclusion.Failure or Conclusion.TimedOut => continueOnError ? "success" : "failure",
            Conclusion.Cancelled => "cancelled",
            _ => "skipped",
        };

        private JsonObject Github()
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            return new JsonObject
            {
                ["event_name"] = "workflow_dispatch",
                ["event"] = new JsonObject { ["inputs"] = inputs.DeepClone() },
                ["ref"] = "",
                ["ref_name"] = "",
                ["sha"] = "",
                ["repository"] = Path.GetFileName(Path.GetFullPath(options.Workspace).TrimEnd(Path.DirectorySeparatorChar)),
                ["actor"] = Environment.UserName,
                ["triggering_actor"] = Environment.UserName,
                ["workflow"] = workflow.Name ?? Path.GetFileName(options.File),
                ["run_id"] = now,
                ["run_number"] = "1",
                ["run_attempt"] = "1",
                ["server_url"] = "",
                ["api_url"] = "",
            };
        }
    }
}
