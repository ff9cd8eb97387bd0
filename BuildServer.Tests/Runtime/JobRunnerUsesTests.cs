using BuildServer.Modules.Runtime;

namespace BuildServer.Tests.Runtime;

public sealed class JobRunnerUsesTests
{
    private RuntimeHarness _harness = null!;

    [SetUp]
    public void SetUp() => _harness = new RuntimeHarness();

    [TearDown]
    public async Task TearDown() => await _harness.DisposeAsync();

    [TestCase("actions/checkout@v4", "checkout")]
    [TestCase("actions/upload-artifact@v4", "upload-artifact")]
    [TestCase("actions/download-artifact@v4", "download-artifact")]
    [TestCase("actions/cache@v4", "cache")]
    [TestCase("actions/cache/restore@v4", "cache-restore")]
    [TestCase("actions/cache/save@v4", "cache-save")]
    [TestCase("./.github/actions/setup", "local-action")]
    public async Task RunAsync_BuiltInKind_FailsAsNotYetAvailable(string uses, string kind)
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Uses(uses, kind).Build());

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Steps[0].Reason, Is.EqualTo($"'{uses}' is not yet available on this server"));
    }

    [Test]
    public async Task RunAsync_KindWithoutHandler_FailsNamingTheKind()
    {
        var outcome = await _harness.RunAsync(new JobBuilder().Uses("acme/deploy@v1", "deploy").Build());

        Assert.That(outcome.Steps[0].Reason, Is.EqualTo("no handler for step kind 'deploy'"));
    }

    [Test]
    public async Task RunAsync_Handler_GetsEvaluatedWithAndItsOutputsReachTheStepsContext()
    {
        var handler = new EchoKind();
        _harness.Handlers.Add(handler);
        var spec = new JobBuilder()
            .Uses("acme/echo@v1", "echo", id: "e", with: new() { ["message"] = "ref ${{ github.ref_name }}" })
            .Run("echo '${{ steps.e.outputs.said }}'")
            .Build();

        var outcome = await _harness.RunAsync(spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason);
        Assert.That(_harness.Reporter.Lines, Is.EqualTo(new[] { "handler: ref main", "ref main" }));
    }

    private sealed class EchoKind : IStepKindHandler
    {
        public string Kind => "echo";

        public Task<StepKindResult> RunAsync(StepKindInvocation invocation, CancellationToken cancellationToken)
        {
            invocation.Output.Line("handler: " + invocation.With["message"], Modules.Executors.OutputChannel.Stdout);
            return Task.FromResult(StepKindResult.Success(new Dictionary<string, string> { ["said"] = invocation.With["message"] }));
        }
    }
}
