using BuildServer.Modules.Executors;
using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerFailureTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task RunAsync_WorkflowEnvExpressionFails_FailsTheJobAndSkipsItsSteps()
    {
        var spec = new JobBuilder().WorkflowEnv("BAD", "${{ fromJSON('{') }}").Run("echo never").Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Reason, Does.StartWith("env.BAD (1:"));
        Assert.That(outcome.Steps.Single().Conclusion, Is.EqualTo(Conclusion.Skipped));
        Assert.That(_harness.Reporter.Lines, Does.Not.Contain("never"));
    }

    [Test]
    public async Task RunAsync_ExecutorThrows_FailsTheStepWithTheMessage()
    {
        _harness.WrapExecution = inner => new ThrowingExecution(inner);
        var spec = new JobBuilder().Run("true").Run("echo cleanup", @if: "always()").Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("step 'Run true' could not run: disk full"));
        Assert.That(outcome.Steps[1].Reason, Is.EqualTo("step 'Run echo cleanup' could not run: disk full"));
    }

    [Test]
    public async Task RunAsync_GithubEnvSettingAGithubVariable_IsIgnoredWithAWarning()
    {
        var spec = new JobBuilder()
            .Run("echo GITHUB_SHA=fake >> \"$GITHUB_ENV\"")
            .Run("echo \"sha $GITHUB_SHA\"")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(_harness.Reporter.Lines, Does.Contain("sha 0123456789abcdef0123456789abcdef01234567"));
        Assert.That(outcome.Annotations.Single().Level, Is.EqualTo(AnnotationLevel.Warning));
    }

    [Test]
    public async Task RunAsync_BadTimeoutMinutes_FailsTheStepNamingTheKey()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("true", timeoutMinutes: "soon").Build());

        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("timeout-minutes (10:9): '\"soon\"' is not a positive number of minutes"));
    }

    private sealed class ThrowingExecution(IExecution inner) : IExecution
    {
        public string Workspace => inner.Workspace;

        public string TempFolder => inner.TempFolder;

        public string ToHostPath(string stepPath) => inner.ToHostPath(stepPath);

        public Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken) =>
            throw new IOException("disk full");

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
