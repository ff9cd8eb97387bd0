using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;

namespace BuildServer.Tests.Executors;

/// <summary>A job's <c>services:</c> on the real Docker executor: they share the job container's network.</summary>
[TestFixture]
public sealed class DockerServiceTests
{
    [Test]
    public async Task RunStep_ServiceWithHealthCheck_IsReachedOnLoopbackLocalhostAndByItsName()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt, ("web", DockerHarness.Service(DockerHarness.WebScript, DockerHarness.WebHealth, "8080:8080")));
        await using var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);
        var sink = new RecordingSink();

        // No retry loop: prepare returns only once the service is healthy.
        var result = await execution.RunStepAsync(DockerHarness.Step(0,
            "echo \"loopback $(wget -q -O - http://127.0.0.1:8080/)\"\necho \"localhost $(wget -q -O - http://localhost:8080/)\"\n" +
            "echo \"by name $(wget -q -O - http://web:8080/)\""), sink, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        Assert.That(sink.Texts, Does.Contain("loopback pong").And.Contain("localhost pong").And.Contain("by name pong"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.EqualTo(2), "the job's container and the service's");
    }

    [Test]
    public async Task Prepare_HealthCheckNeverPasses_FailsNamingTheServiceAndItsOutput()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt,
            ("db", DockerHarness.Service("exec sleep 300", "--health-cmd 'echo db not ready; exit 1' --health-interval 1s --health-retries 2")));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("service 'db' is unhealthy").And.Contain("db not ready"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
        Assert.That(Directory.EnumerateFileSystemEntries(harness.Executor.WorkRoot), Is.Empty);
    }

    [Test]
    public async Task Prepare_HealthStillStartingAtTheTimeout_FailsNamingTheServiceAndTheSetting()
    {
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { ServiceStartTimeout = TimeSpan.FromSeconds(2) });
        var attempt = DockerHarness.NextAttempt();
        // The first check would run after an hour: the service stays 'starting'.
        var request = WithServices(attempt, ("cache", DockerHarness.Service("exec sleep 300", "--health-cmd true --health-interval 1h")));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("service 'cache' did not become healthy").And.Contain("ServiceStartTimeout"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [Test]
    public async Task Prepare_ServiceExits_FailsWithItsLastLogLines()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt,
            ("db", DockerHarness.Service("echo starting; echo 'fatal: no data directory' >&2; exit 3", "--health-cmd true --health-interval 1s")));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("service 'db' exited (exit code 3)").And.Contain("fatal: no data directory"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [TestCase("--privileged", "service 'db' option '--privileged' is not supported")]
    [TestCase("--network host", "service 'db' option '--network' is not supported")]
    [TestCase("--health-cmd true --health-interval soon", "'--health-interval soon': not a duration")]
    [TestCase("--memory 100g", "service 'db' asks for")]
    [TestCase("--health-cmd 'unclosed", "a quote (') is not closed")]
    public async Task Prepare_UnsupportedServiceOption_FailsNamingItAndCreatesNothing(string options, string message)
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt, ("db", DockerHarness.Service("exec sleep 300", options)));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.Contain(message));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [Test]
    public async Task Prepare_PortMappedToAnotherNumber_FailsSayingHowTheServiceIsReached()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt, ("web", DockerHarness.Service(DockerHarness.WebScript, null, "8080", "9090:8080")));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("service 'web' port '9090:8080'").And.Contain("127.0.0.1:8080"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [Test]
    public async Task Prepare_MissingServiceImage_FailsNamingTheServiceAndTheImage()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt, ("db", new ExecutionContainer("registry.invalid/db:1", new Dictionary<string, string>(), null)));

        var error = await Assert.ThrowsAsync<ExecutorException>(() => harness.Executor.PrepareAsync(request, CancellationToken.None));

        Assert.That(error!.Message, Does.StartWith("service 'db': image 'registry.invalid/db:1' not found"));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [TestCase("echo done", false)]
    [TestCase("echo failing; exit 4", false)]
    [TestCase("echo started; sleep 300", true)]
    public async Task Dispose_AfterSuccessFailureOrCancel_LeavesNoContainerOfTheAttempt(string script, bool cancel)
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt,
            ("web", DockerHarness.Service(DockerHarness.WebScript, DockerHarness.WebHealth)),
            ("idle", DockerHarness.Service("exec sleep 300")));
        var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);
        var running = await harness.CountContainersAsync(attempt);
        using var stop = new CancellationTokenSource();
        var sink = new CancelOnFirstLine(cancel ? stop : null);

        var result = await execution.RunStepAsync(DockerHarness.Step(0, script), sink, stop.Token);
        await execution.DisposeAsync();

        Assert.That(running, Is.EqualTo(3));
        Assert.That(result.Cancelled, Is.EqualTo(cancel));
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    [Test]
    public async Task Prepare_CancelledWhileWaitingForAService_ThrowsAndLeavesNoContainer()
    {
        await using var harness = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        var request = WithServices(attempt, ("cache", DockerHarness.Service("exec sleep 300", "--health-cmd true --health-interval 1h")));
        using var cancel = new CancellationTokenSource();

        var prepare = harness.Executor.PrepareAsync(request, cancel.Token);
        // Cancelled once both containers exist: the cancel lands in the wait for health, not in a create.
        while (await harness.CountContainersAsync(attempt) < 2 && !prepare.IsCompleted) await Task.Delay(50);
        await cancel.CancelAsync();

        Assert.That(async () => await prepare, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    private static ExecutionRequest WithServices(long attempt, params (string Name, ExecutionContainer Service)[] services) =>
        DockerHarness.Request(attempt) with { Services = services.ToDictionary(s => s.Name, s => s.Service) };

    private sealed class CancelOnFirstLine(CancellationTokenSource? cancel) : IOutputSink
    {
        public void Line(ReadOnlySpan<char> text, OutputChannel stream) => cancel?.Cancel();
    }
}
