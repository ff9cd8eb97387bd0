using System.Net;
using System.Net.Sockets;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.MicroVm;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Executors;

/// <summary>The microVM executor on real QEMU VMs (TCG here). Each test boots its own VMs.</summary>
[TestFixture]
public sealed class MicroVmExecutorTests
{
    private static async Task<ExecutorException> AssertThrows(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (ExecutorException e)
        {
            return e;
        }
        Assert.Fail("expected an ExecutorException");
        throw new InvalidOperationException();
    }

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

    [Test]
    public async Task RunStep_EnvWorkingDirectoryAndFileCommands_TravelBothWays()
    {
        using var harness = new MicroVmHarness();
        var request = MicroVmHarness.Request(MicroVmHarness.NextAttempt(), env: new Dictionary<string, string> { ["JOB_LEVEL"] = "job 'quoted' value" });
        await using var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);
        var sink = new RecordingSink();
        var output = $"{execution.TempFolder}/_runner_file_commands/set_output_0";
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(execution.ToHostPath($"{execution.TempFolder}/_runner_file_commands")).FullName, "set_output_0"), "");

        var first = await execution.RunStepAsync(MicroVmHarness.Step(0,
            "echo \"$JOB_LEVEL|$STEP_LEVEL|$GITHUB_WORKSPACE|$(pwd)\"\nmkdir -p sub/dir\necho answer=42 >> \"$GITHUB_OUTPUT\"",
            new Dictionary<string, string> { ["STEP_LEVEL"] = "step value", ["GITHUB_OUTPUT"] = output }), sink, CancellationToken.None);
        var exists = await execution.DirectoryExistsAsync($"{execution.Workspace}/sub/dir", CancellationToken.None);
        var missing = await execution.DirectoryExistsAsync($"{execution.Workspace}/nowhere", CancellationToken.None);
        var second = await execution.RunStepAsync(MicroVmHarness.Step(1, "pwd") with { WorkingDirectory = $"{execution.Workspace}/sub/dir" }, sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(first.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
            Assert.That(second.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
            Assert.That(sink.Texts, Is.EqualTo(new[]
            {
                $"job 'quoted' value|step value|{execution.Workspace}|{execution.Workspace}",
                $"{execution.Workspace}/sub/dir",
            }));
            Assert.That(File.ReadAllText(execution.ToHostPath(output)), Is.EqualTo("answer=42\n"), "GITHUB_OUTPUT comes back to the host");
            Assert.That(exists, Is.True, "a folder a step made in the VM exists for the next step's working-directory");
            Assert.That(missing, Is.False);
        });
    }

    [Test]
    public async Task ExplicitWorkspace_GoesInAndComesBackOut()
    {
        using var harness = new MicroVmHarness();
        var workspace = Directory.CreateDirectory(Path.Combine(harness.DataRoot, "user-folder")).FullName;
        File.WriteAllText(Path.Combine(workspace, "input.txt"), "from the host\n");
        var sink = new RecordingSink();

        await using (var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt(), workspace: workspace), CancellationToken.None))
        {
            var result = await execution.RunStepAsync(MicroVmHarness.Step(0, "cat input.txt\nmkdir -p out\necho built in the VM > out/result.txt"), sink, CancellationToken.None);
            Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        }

        Assert.That(sink.Texts, Is.EqualTo(new[] { "from the host" }));
        Assert.That(File.ReadAllText(Path.Combine(workspace, "out", "result.txt")), Is.EqualTo("built in the VM\n"));
        Assert.That(harness.CountVms(), Is.Zero);
        Assert.That(harness.CountWorkFolders(), Is.Zero);
    }

    [Test]
    public async Task Cancel_MidStep_KillsTheVmAtOnce()
    {
        using var harness = new MicroVmHarness();
        var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new StartedSink("started");
        using var cancel = new CancellationTokenSource();

        var running = execution.RunStepAsync(MicroVmHarness.Step(0, "echo started\nsleep 600"), sink, cancel.Token);
        await sink.Started.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.That(harness.CountVms(), Is.EqualTo(1));
        await cancel.CancelAsync();
        var result = await running.WaitAsync(TimeSpan.FromSeconds(5));
        var vmsRightAfter = await Eventually.Until(() => Task.FromResult(harness.CountVms()), count => count == 0, TimeSpan.FromSeconds(5), "QEMU to be gone");
        var after = await execution.RunStepAsync(MicroVmHarness.Step(1, "echo always"), sink, CancellationToken.None);
        await execution.DisposeAsync();

        Assert.Multiple(() =>
        {
            Assert.That(result.Cancelled, Is.True);
            Assert.That(after.FailureReason, Is.EqualTo(MicroVmExecution.GoneReason), "a step after the cancel fails with a reason, it does not throw");
            Assert.That(harness.CountWorkFolders(), Is.Zero);
        });
    }

    [Test]
    public async Task Step_AllocatingMoreThanTheVmHas_FailsAsOutOfMemory_AndTheNextStepStillRuns()
    {
        using var harness = new MicroVmHarness();
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var hog = await execution.RunStepAsync(MicroVmHarness.Step(0, "awk 'BEGIN { s = \"x\"; while (1) s = s s }'"), sink, CancellationToken.None);
        var next = await execution.RunStepAsync(MicroVmHarness.Step(1, "echo still here"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(hog.ExitCode, Is.EqualTo(137), string.Join('\n', sink.Texts));
            Assert.That(hog.FailureReason, Is.EqualTo(MicroVmExecution.OomReason));
            Assert.That(next.ExitCode, Is.Zero);
            Assert.That(sink.Texts, Does.Contain("still here"));
        });
    }

    [Test]
    public async Task NoNetworkByDefault_TheJobCannotReachTheHost()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var harness = new MicroVmHarness();
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(MicroVmHarness.Step(0,
            "ls /sys/class/net\n" +
            $"for address in 127.0.0.1 10.0.2.2; do if echo hi | nc -w 2 $address {port}; then echo reached $address; else echo unreachable $address; fi; done"),
            sink, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        Assert.That(sink.Lines.Where(l => l.Stream == OutputChannel.Stdout).Select(l => l.Text),
            Is.EqualTo(new[] { "lo", "unreachable 127.0.0.1", "unreachable 10.0.2.2" }), "the VM has a loopback device only");
        Assert.That(listener.Pending(), Is.False);
    }

    [Test]
    public async Task GuestPanic_FailsTheStepAsTheVmDying_WithTheConsoleLines()
    {
        using var harness = new MicroVmHarness();
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(MicroVmHarness.Step(0, "echo before\necho c > /proc/sysrq-trigger\nsleep 60"), sink, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(result.Cancelled, Is.False);
            Assert.That(result.ExitCode, Is.Not.Zero);
            Assert.That(result.FailureReason, Does.StartWith("the VM died during the step"));
            Assert.That(sink.Texts, Does.Contain("before"));
            Assert.That(sink.Texts, Has.Some.Contains("Kernel panic - not syncing: sysrq triggered crash"), "the crash headline is in the log, even when its stack trace is longer than the console tail");
        });
        await Eventually.Until(() => harness.CountVms() == 0, TimeSpan.FromSeconds(5), "QEMU to be gone");
    }

    [Test]
    public async Task Prepare_KernelWithoutMemoryToBoot_FailsAsABootFailureWithTheConsoleLines()
    {
        var options = MicroVmHarness.Tcg();
        options.MemoryMb = 64; // the kernel starts, then runs out of memory before init (a panic on the console)
        using var harness = new MicroVmHarness(options);

        var failure = await AssertThrows(() => harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None));

        Assert.That(failure.Message, Does.StartWith("the VM failed to boot: "));
        Assert.That(failure.Message, Does.Contain("Last console lines:\n").And.Contain("Kernel panic"), failure.Message);
        await Eventually.Until(() => harness.CountVms() == 0, TimeSpan.FromSeconds(5), "QEMU to be gone");
        Assert.That(harness.CountWorkFolders(), Is.Zero);
    }

    [Test]
    public async Task Prepare_KernelMissing_FailsNamingIt()
    {
        var options = MicroVmHarness.Tcg();
        options.Kernel = "/boot/vmlinuz-does-not-exist";
        using var harness = new MicroVmHarness(options);

        var failure = await AssertThrows(() => harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None));

        Assert.That(failure.Message, Is.EqualTo("the guest kernel '/boot/vmlinuz-does-not-exist' does not exist (Executors:MicroVm:Kernel)"));
    }
}
