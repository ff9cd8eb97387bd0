using BuildServer.Modules.Runtime;
using Microsoft.Extensions.Time.Testing;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerConditionTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [Test]
    public async Task RunAsync_AfterAFailure_OnlyFailureAndAlwaysStepsRun()
    {
        var spec = new JobBuilder()
            .Run("exit 3", id: "broken")
            .Run("echo default")
            .Run("echo on-failure", @if: "failure()")
            .Run("echo always ${{ steps.broken.outcome }}", @if: "${{ always() }}")
            .Run("echo on-success", @if: "success()")
            .Run("echo cancelled", @if: "cancelled()")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.ExitCode, Is.EqualTo(3));
        Assert.That(outcome.Reason, Is.EqualTo("step 'Run exit 3' exited with code 3"));
        Assert.That(outcome.Steps.Select(s => s.Conclusion), Is.EqualTo(new[]
        {
            Conclusion.Failure, Conclusion.Skipped, Conclusion.Success, Conclusion.Success, Conclusion.Skipped, Conclusion.Skipped,
        }));
        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[] { "on-failure", "always failure" }));
        Assert.That(_harness.Reporter.Events, Does.Not.Contain("start 1 Run echo default"), "a skipped step is not started");
        Assert.That(_harness.Reporter.Events, Does.Contain("finish 1 Skipped"));
    }

    [Test]
    public async Task RunAsync_ConditionOnContexts_SkipsOrRuns()
    {
        var spec = new JobBuilder()
            .Run("echo yes", @if: "github.ref == 'refs/heads/main' && env.MODE == 'full'", env: new() { ["MODE"] = "full" })
            .Run("echo no", @if: "github.event_name == 'pull_request'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Steps.Select(s => s.Conclusion), Is.EqualTo(new[] { Conclusion.Success, Conclusion.Skipped }));
        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success));
    }

    [Test]
    public async Task RunAsync_ContinueOnError_ConclusionSuccessOutcomeFailure()
    {
        var spec = new JobBuilder()
            .Run("exit 1", id: "flaky", continueOnError: "${{ github.ref_name == 'main' }}")
            .Run("echo '${{ steps.flaky.outcome }}/${{ steps.flaky.conclusion }}'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success));
        Assert.That(outcome.Steps[0], Is.EqualTo(new StepOutcome(0, "Run exit 1", Conclusion.Failure, Conclusion.Success, 1, "step 'Run exit 1' exited with code 1")));
        Assert.That(_harness.Reporter.Lines, Does.Contain("failure/success"));
    }

    [Test]
    public async Task RunAsync_StepName_IsEvaluatedOrDerived()
    {
        var spec = new JobBuilder()
            .Run("true", name: "Build on ${{ runner.os }}")
            .Run("\n  make all\n  make test")
            .Uses("actions/checkout@v4", "checkout", @if: "always()")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Steps.Select(s => s.Name), Is.EqualTo(new[] { "Build on Linux", "Run make all", "actions/checkout@v4" }));
    }

    [Test]
    public async Task RunAsync_ExpressionErrorAtRunTime_FailsTheStepNamingTheKeyAndPosition()
    {
        var spec = new JobBuilder()
            .Run("true")
            .Run("echo ${{ fromJSON('not json') }}")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[1].Reason, Does.Match(@"^run \(11:\d+\): "));
        Assert.That(outcome.Reason, Is.EqualTo(outcome.Steps[1].Reason));
    }

    [Test]
    public async Task RunAsync_SecretsInStepIf_AreNotAvailable()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Run("true", @if: "secrets.X == 'y'").Build());

        Assert.That(outcome.Steps[0].Outcome, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[0].Reason, Does.StartWith("if (10:"));
    }

    [Test]
    public async Task RunAsync_HashFiles_HashesWorkspaceFiles()
    {
        var spec = new JobBuilder()
            .Run("echo lock > deps.lock")
            .Run("echo \"hash=${{ hashFiles('**/*.lock') }}\"; echo \"none=${{ hashFiles('*.nothing') }}\"")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, "^hash=[0-9a-f]{64}$")), Is.EqualTo(1));
        Assert.That(_harness.Reporter.Lines, Does.Contain("none="));
    }

    [Test]
    public async Task RunAsync_StepTimeout_TimesOutWithTheReason()
    {
        var spec = new JobBuilder()
            .Run("sleep 20", timeoutMinutes: "0.02")
            .Run("echo after", @if: "failure()")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Steps[0].Outcome, Is.EqualTo(Conclusion.TimedOut));
        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("step 'Run sleep 20' timed out after 0.02 minutes"));
        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(_harness.Reporter.Lines, Does.Contain("after"));
    }

    [Test]
    public async Task RunAsync_Cancelled_StopsTheStepAndStillRunsAlwaysSteps()
    {
        using var cancel = new CancellationTokenSource();
        var spec = new JobBuilder()
            .Run("echo started; sleep 30")
            .Run("echo skipped")
            .Run("echo cleanup ${{ job.status }}", @if: "always()")
            .Run("echo saw-cancel", @if: "cancelled()")
            .Build();

        var running = _harness.RunAsync(spec, cancellationToken: cancel.Token);
        await _harness.Reporter.WaitForLineAsync("started");
        await cancel.CancelAsync();
        var outcome = await running;

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Cancelled));
        Assert.That(outcome.Steps.Select(s => s.Conclusion), Is.EqualTo(new[]
        {
            Conclusion.Cancelled, Conclusion.Skipped, Conclusion.Success, Conclusion.Success,
        }));
        Assert.That(_harness.Reporter.Lines, Is.SupersetOf(new[] { "cleanup cancelled", "saw-cancel" }));
    }

    [Test]
    public async Task RunAsync_JobTimeout_CancelsWithConclusionTimedOut()
    {
        var time = new FakeTimeProvider();
        var spec = new JobBuilder()
            .TimeoutMinutes(5)
            .Run("echo started; sleep 30")
            .Run("echo cleanup", @if: "always()")
            .Build();

        var running = _harness.RunAsync(spec, time: time);
        await _harness.Reporter.WaitForLineAsync("started");
        time.Advance(TimeSpan.FromMinutes(6));
        var outcome = await running;

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.TimedOut));
        Assert.That(outcome.Reason, Is.EqualTo("the job timed out after 5 minutes"));
        Assert.That(outcome.Steps[0].Outcome, Is.EqualTo(Conclusion.Cancelled));
        Assert.That(_harness.Reporter.Lines, Does.Contain("cleanup"));
    }
}
