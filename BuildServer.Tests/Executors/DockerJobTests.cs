using BuildServer.Modules.Executors;
using BuildServer.Modules.Pipelines.Planning;
using BuildServer.Modules.Pipelines.Workflow;
using BuildServer.Modules.Runtime;
using BuildServer.Tests.Infrastructure;
using BuildServer.Tests.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Executors;

/// <summary>Container jobs through the job runner, on the real Docker executor.</summary>
[TestFixture]
public sealed class DockerJobTests
{
    [Test]
    public async Task RunJob_InContainer_StepsRunInTheImageWithTheirOutput()
    {
        await using var harness = await DockerHarness.StartAsync();
        var spec = WithContainer(new JobBuilder().Run("echo hello from $(cat /etc/hostname | wc -c) && busybox | head -n 1").Run("test ! -e /usr/bin/dotnet").Build(), null);

        var (outcome, reporter) = await RunAsync(harness, spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason + string.Join('\n', reporter.Lines));
        Assert.That(string.Join('\n', reporter.Lines), Does.Contain("BusyBox"));
    }

    [Test]
    public async Task RunJob_InContainer_FileCommandsWorkThroughTheMountedTempFolder()
    {
        await using var harness = await DockerHarness.StartAsync();
        var spec = WithContainer(new JobBuilder()
            .Run("echo FROM_ENV_FILE=yes >> \"$GITHUB_ENV\"\necho answer=42 >> \"$GITHUB_OUTPUT\"\nmkdir -p tools && echo 'echo tool ran' > tools/mytool && chmod +x tools/mytool\necho \"$GITHUB_WORKSPACE/tools\" >> \"$GITHUB_PATH\"", id: "first")
            .Run("echo \"env=$FROM_ENV_FILE\"; mytool")
            .Output("answer", "${{ steps.first.outputs.answer }}")
            .Build(), null);

        var (outcome, reporter) = await RunAsync(harness, spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Success), outcome.Reason + string.Join('\n', reporter.Lines));
        Assert.That(reporter.Lines, Does.Contain("env=yes").And.Contain("tool ran"));
        Assert.That(outcome.Outputs["answer"], Is.EqualTo("42"));
    }

    [Test]
    public async Task RunJob_OomKilledStep_FailsWithTheReason()
    {
        await using var harness = await DockerHarness.StartAsync();
        var spec = WithContainer(new JobBuilder().Run("x=$(head -c 200000000 /dev/zero | tr '\\0' a)").Build(), "--memory 64m");

        var (outcome, _) = await RunAsync(harness, spec);

        Assert.That(outcome.Conclusion, Is.EqualTo(Conclusion.Failure));
        Assert.That(outcome.Reason, Does.Contain("out of memory (OOM-killed)"));
    }

    [Test]
    public void CannotRun_ContainerJobWithoutDocker_SaysSoAndWithDockerAccepts()
    {
        var spec = WithContainer(new JobBuilder().Run("true").Build(), null);

        Assert.That(JobRequirements.CannotRun(spec, new HostOnly()), Does.Contain("no Docker executor"));
        Assert.That(JobRequirements.CannotRun(spec, new WithContainers()), Is.Null);
        Assert.That(JobRequirements.ContainerOf(spec)!.Image, Is.EqualTo(DockerEngine.BusyboxImage));
    }

    [Test]
    public void CannotRun_ServicesWithoutAJobContainer_AreRefusedNamingJobAndServices()
    {
        var spec = new JobBuilder().Run("true").Build() with
        {
            Services = new Dictionary<string, ContainerSpec> { ["db"] = Container(null), ["cache"] = Container(null) },
        };

        var reason = JobRequirements.CannotRun(spec, new WithContainers());

        Assert.That(reason, Does.Contain($"job '{spec.Name}'").And.Contain("service containers (db, cache)").And.Contain("add a 'container:'"));
    }

    [Test]
    public void CannotRun_ServicesBesideAJobContainer_AreAcceptedAndMappedWithTheirPorts()
    {
        var db = Container("--health-cmd true") with
        {
            Env = new Dictionary<string, Template> { ["POSTGRES_PASSWORD"] = JobBuilder.T("secret") },
            Ports = [JobBuilder.T("5432:5432")],
        };
        var spec = WithContainer(new JobBuilder().Run("true").Build(), null) with { Services = new Dictionary<string, ContainerSpec> { ["db"] = db } };

        var services = JobRequirements.ServicesOf(spec);

        Assert.That(JobRequirements.CannotRun(spec, new WithContainers()), Is.Null);
        Assert.That(services.Keys, Is.EqualTo(new[] { "db" }));
        Assert.That(services["db"].Env["POSTGRES_PASSWORD"], Is.EqualTo("secret"));
        Assert.That(services["db"].Options, Is.EqualTo("--health-cmd true"));
        Assert.That(services["db"].Ports, Is.EqualTo(new[] { "5432:5432" }));
    }

    [Test]
    public void CannotRun_ServiceWithVolumes_IsRefusedNamingIt()
    {
        var spec = WithContainer(new JobBuilder().Run("true").Build(), null) with
        {
            Services = new Dictionary<string, ContainerSpec> { ["db"] = Container(null) with { Volumes = [JobBuilder.T("/data:/var/lib/data")] } },
        };

        Assert.That(JobRequirements.CannotRun(spec, new WithContainers()), Does.Contain("service 'db'").And.Contain("'volumes:'"));
    }

    private static JobSpec WithContainer(JobSpec spec, string? options) => spec with { Container = Container(options) };

    private static ContainerSpec Container(string? options) => new(JobBuilder.T(DockerEngine.BusyboxImage), new Dictionary<string, Template>(), [], [],
        options is null ? null : JobBuilder.T(options), null);

    private static async Task<(JobOutcome Outcome, RecordingReporter Reporter)> RunAsync(DockerHarness harness, JobSpec spec)
    {
        var request = new ExecutionRequest(DockerHarness.NextAttempt(), new Dictionary<string, string>()) { Container = JobRequirements.ContainerOf(spec) };
        await using var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);
        var runner = new JobRunner([], Options.Create(new JobRunnerOptions { RunnerName = "test-runner" }), TimeProvider.System, NullLogger<JobRunner>.Instance);
        var reporter = new RecordingReporter();
        var outcome = await runner.RunAsync(spec, Contexts.Default(), execution, reporter, CancellationToken.None);
        return (outcome, reporter);
    }

    private sealed class HostOnly : IExecutor
    {
        public string Name => "host";

        public Task RemoveLeftoversAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class WithContainers : IExecutor
    {
        public string Name => "docker";

        public bool RunsContainers => true;

        public Task RemoveLeftoversAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
