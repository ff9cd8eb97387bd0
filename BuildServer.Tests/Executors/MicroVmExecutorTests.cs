using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.MicroVm;

namespace BuildServer.Tests.Executors;

[TestFixture]
public sealed class MicroVmExecutorTests
{
    [Test]
    public async Task RunStep_SeveralSteps_StreamsOutputAndExitCodesInOrder()
    {
        using var harness = new MicroVmHarness();
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var first = await execution.RunStepAsync(MicroVmHarness.Step(0, "echo one\necho two >&2\necho three"), sink, CancellationToken.None);
        var second = await execution.RunStepAsync(MicroVmHarness.Step(1, "echo four\nexit 3"), sink, CancellationToken.None);
        var third = await execution.RunStepAsync(MicroVmHarness.Step(2, "echo never-after-false\nfalse\necho not-reached"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(new StepResult(0, false)));
            Assert.That(second, Is.EqualTo(new StepResult(3, false)));
            Assert.That(third.ExitCode, Is.EqualTo(1), "the default shell is sh -e when the guest has no bash");
            Assert.That(sink.Lines.Where(l => l.Stream == OutputChannel.Stdout).Select(l => l.Text),
                Is.EqualTo(new[] { "one", "three", "four", "never-after-false" }));
            Assert.That(sink.Lines.Where(l => l.Stream == OutputChannel.Stderr).Select(l => l.Text), Is.EqualTo(new[] { "two" }));
        });
    }
}
