using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;

namespace BuildServer.Tests.Executors;

[TestFixture]
public sealed class DockerExecutorTests
{
    [Test]
    public async Task RunStep_SeveralSteps_StreamsOutputAndExitCodesInOrder()
    {
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var first = await execution.RunStepAsync(DockerHarness.Step(0, "echo one\necho two >&2\necho three"), sink, CancellationToken.None);
        var second = await execution.RunStepAsync(DockerHarness.Step(1, "echo four\nexit 3"), sink, CancellationToken.None);
        var third = await execution.RunStepAsync(DockerHarness.Step(2, "echo never-after-false\nfalse\necho not-reached"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(new StepResult(0, false)));
            Assert.That(second, Is.EqualTo(new StepResult(3, false)));
            Assert.That(third.ExitCode, Is.EqualTo(1), "the default shell is sh -e when the image has no bash");
            Assert.That(sink.Lines.Where(l => l.Stream == OutputChannel.Stdout).Select(l => l.Text),
                Is.EqualTo(new[] { "one", "three", "four", "never-after-false" }));
            Assert.That(sink.Lines.Where(l => l.Stream == OutputChannel.Stderr).Select(l => l.Text), Is.EqualTo(new[] { "two" }));
        });
    }

    [Test]
    public async Task RunStep_RequestAndStepEnv_AreVisible()
    {
        await using var harness = await DockerHarness.StartAsync();
        var request = DockerHarness.Request(DockerHarness.NextAttempt(), env: new Dictionary<string, string> { ["JOB_LEVEL"] = "job value" });
        await using var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(
            DockerHarness.Step(0, "echo \"$JOB_LEVEL|$STEP_LEVEL|$GITHUB_WORKSPACE|$(pwd)\"", new Dictionary<string, string> { ["STEP_LEVEL"] = "step value" }),
            sink, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(sink.Texts, Is.EqualTo(new[] { $"job value|step value|{execution.Workspace}|{execution.Workspace}" }));
    }

    [Test]
    public async Task RunStep_FileWrittenInWorkspace_IsReadByNextStepAndSeenOnHost()
    {
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        await execution.RunStepAsync(DockerHarness.Step(0, "echo built > out.txt"), sink, CancellationToken.None);
        var read = await execution.RunStepAsync(DockerHarness.Step(1, "cat out.txt"), sink, CancellationToken.None);

        Assert.That(read.ExitCode, Is.Zero);
        Assert.That(sink.Texts, Is.EqualTo(new[] { "built" }));
        Assert.That(File.ReadAllText(execution.ToHostPath(execution.Workspace + "/out.txt")), Is.EqualTo("built\n"));
        Assert.That(Directory.Exists(execution.ToHostPath(execution.TempFolder)), Is.True);
    }

    [Test]
    public async Task RunStep_NoNetworkByDefault_CannotReachHostLoopback()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(
            DockerHarness.Step(0, $"ip link | grep -c ': eth' || true\nif echo hi | nc -w 2 127.0.0.1 {port}; then echo reached; else echo unreachable; fi"),
            sink, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        Assert.That(sink.Texts, Does.Contain("unreachable").And.Not.Contain("reached"));
        Assert.That(listener.Pending(), Is.False, "nothing connected to the host's listener");
    }

    [Test]
    public async Task RunStep_HostNetworkAllowedAndAsked_ReachesHostLoopback()
    {
        // The control for the test above: the same probe does connect when the job has the host's network.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { AllowHostNetwork = true });
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt(), "--network host"), CancellationToken.None);
        var sink = new RecordingSink();

        var step = execution.RunStepAsync(
            DockerHarness.Step(0, $"if echo hi | nc -w 2 127.0.0.1 {port}; then echo reached; else echo unreachable; fi"), sink, CancellationToken.None);
        using var accepted = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
        accepted.Close();
        var result = await step;

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        Assert.That(sink.Texts, Does.Contain("reached"));
    }

    [Test]
    public async Task RunStep_AllocatingPastMemoryLimit_Exits137WithOomReason()
    {
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt(), "--memory 64m"), CancellationToken.None);
        var sink = new RecordingSink();

        // 200 MB held in one shell variable: far past 64m, no swap beyond it.
        var result = await execution.RunStepAsync(
            DockerHarness.Step(0, "x=$(head -c 200000000 /dev/zero | tr '\\0' a)\necho survived ${#x}"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(137), string.Join('\n', sink.Texts));
            Assert.That(result.FailureReason, Is.EqualTo(DockerExecution.OomReason));
            Assert.That(sink.Texts, Has.Some.Contains("out of memory (OOM-killed)"));
        });
    }

    [Test]
    public async Task RunStep_ForkingPastPidsLimit_FailsWithPidsReason()
    {
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt(), "--pids-limit 40"), CancellationToken.None);
        var sink = new RecordingSink();

        var bomb = await execution.RunStepAsync(DockerHarness.Step(0, "for i in $(seq 200); do sleep 30 & done\nwait"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(bomb.ExitCode, Is.Not.Zero);
            Assert.That(bomb.FailureReason, Is.EqualTo(DockerExecution.PidsReason), string.Join('\n', sink.Texts));
            Assert.That(sink.Texts, Has.Some.Contains("pids limit reached"));
        });
    }

    [Test]
    public async Task RunStep_CancelledMidStep_EndsAndContainerIsGoneWithinFiveSeconds()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(attempt), CancellationToken.None);
        var sink = new StartedSink("started");
        using var cancel = new CancellationTokenSource();

        var step = execution.RunStepAsync(DockerHarness.Step(0, "echo started\nsleep 300"), sink, cancel.Token);
        await sink.Started.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(await harness.CountContainersAsync(attempt), Is.EqualTo(1));
        var clock = Stopwatch.StartNew();
        await cancel.CancelAsync();
        var result = await step.WaitAsync(TimeSpan.FromSeconds(5));
        var left = await harness.CountContainersAsync(attempt);

        Assert.Multiple(() =>
        {
            Assert.That(result.Cancelled, Is.True);
            Assert.That(left, Is.Zero, "the attempt's container is removed");
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        });
    }

    [Test]
    public async Task RunStep_AfterACancelRemovedTheContainer_FailsWithReasonInsteadOfThrowing()
    {
        await using var harness = await DockerHarness.StartAsync();
        await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        var sink = new StartedSink("started");
        using var cancel = new CancellationTokenSource();
        var step = execution.RunStepAsync(DockerHarness.Step(0, "echo started\nsleep 300"), sink, cancel.Token);
        await sink.Started.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        await step.WaitAsync(TimeSpan.FromSeconds(5));
        var output = new RecordingSink();

        var always = await execution.RunStepAsync(DockerHarness.Step(1, "echo cleanup"), output, CancellationToken.None);

        Assert.That(always.FailureReason, Is.EqualTo(DockerExecution.GoneReason));
        Assert.That(output.Texts, Has.Some.Contains("the job's container is gone"));
    }

    [TestCase("--privileged", "'--privileged'")]
    [TestCase("--memory 64m -v /:/host", "'-v'")]
    [TestCase("--network bridge", "only 'none' and 'host'")]
    [TestCase("--network host", "AllowHostNetwork")]
    [TestCase("--memory 100g", "MaxMemory")]
    [TestCase("--cpus 64", "MaxCpus")]
    [TestCase("--pids-limit 100000", "MaxPids")]
    public async Task Prepare_UnsupportedOrExcessiveOption_FailsNamingIt(string options, string named)
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(DockerHarness.Request(attempt, options), CancellationToken.None));

        Assert.That(error!.Message, Does.Contain(named));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [TestCase("registry.invalid/nothing/here:1")]
    [TestCase("alpine:3.19")]
    public async Task Prepare_MissingImageAndNoRegistry_FailsNamingTheImage(string image)
    {
        await using var harness = await DockerHarness.StartAsync();
        var request = DockerHarness.Request(DockerHarness.NextAttempt());
        request = request with { Container = request.Container! with { Image = image } };
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.StartWith($"image '{image}' not found"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "no registry: the pull fails, it does not hang");
        Assert.That(Directory.EnumerateFileSystemEntries(harness.Executor.WorkRoot), Is.Empty);
    }

    [Test]
    public async Task FiftyJobs_SucceedingFailingAndCancelled_LeaveNoContainerAndNoFolder()
    {
        await using var harness = await DockerHarness.StartAsync();
        var outcomes = new List<StepResult>();
        for (var i = 0; i < 50; i++)
        {
            await using var execution = await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
            if (i % 5 == 3)
            {
                using var cancel = new CancellationTokenSource();
                var sink = new StartedSink("started");
                var running = execution.RunStepAsync(DockerHarness.Step(0, "echo started\nsleep 600 &\nwait"), sink, cancel.Token);
                await sink.Started.WaitAsync(TimeSpan.FromMinutes(1));
                await cancel.CancelAsync();
                outcomes.Add(await running);
            }
            else
            {
                var script = i % 5 == 1 ? "exit 7" : "echo job; touch leftover; sleep 600 &";
                outcomes.Add(await execution.RunStepAsync(DockerHarness.Step(0, script), new RecordingSink(), CancellationToken.None));
            }
        }

        Assert.Multiple(async () =>
        {
            Assert.That(outcomes.Count(o => o is { ExitCode: 0, Cancelled: false }), Is.EqualTo(30));
            Assert.That(outcomes.Count(o => o is { ExitCode: 7, Cancelled: false }), Is.EqualTo(10));
            Assert.That(outcomes.Count(o => o.Cancelled), Is.EqualTo(10));
            Assert.That(await harness.CountContainersAsync(), Is.Zero, "no container is left");
            Assert.That(Directory.EnumerateFileSystemEntries(harness.Executor.WorkRoot), Is.Empty, "no work folder is left");
        });
    }

    [Test]
    public async Task RemoveLeftovers_ContainersOfACrashedStart_AreRemoved()
    {
        await using var harness = await DockerHarness.StartAsync();
        // Prepared and never disposed: what an agent that crashed mid-job leaves.
        await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        Assert.That(await harness.CountContainersAsync(), Is.EqualTo(2));

        await harness.Executor.RemoveLeftoversAsync(CancellationToken.None);

        Assert.That(await harness.CountContainersAsync(), Is.Zero);
        Assert.That(Directory.EnumerateFileSystemEntries(harness.Executor.WorkRoot), Is.Empty);
    }
}
