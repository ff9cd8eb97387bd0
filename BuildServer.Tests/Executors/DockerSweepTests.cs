using System.Globalization;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;
using BuildServer.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace BuildServer.Tests.Executors;

/// <summary>The agent's periodic sweep on the real Docker executor: what attempts it no longer runs left goes, the
/// rest stays.</summary>
[TestFixture]
public sealed class DockerSweepTests
{
    [Test]
    public async Task Sweep_ContainerOfAnAttemptNotRunning_IsRemovedAndARunningOnesStays()
    {
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.Zero });
        var (gone, running) = (DockerHarness.NextAttempt(), DockerHarness.NextAttempt());
        await CreateLabelledAsync(harness, gone);
        await CreateLabelledAsync(harness, running);

        await harness.Executor.SweepAsync(new HashSet<long> { running }, CancellationToken.None);

        Assert.That(await harness.CountContainersAsync(gone), Is.Zero);
        Assert.That(await harness.CountContainersAsync(running), Is.EqualTo(1));
    }

    [Test]
    public async Task Sweep_AttemptBeingRunByTheExecutor_KeepsItsContainersEvenWhenNotInTheSet()
    {
        // A slot's job that started after the agent took its snapshot of running attempts.
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.Zero });
        var attempt = DockerHarness.NextAttempt();
        var request = DockerHarness.Request(attempt) with
        {
            Services = new Dictionary<string, ExecutionContainer> { ["idle"] = DockerHarness.Service("exec sleep 300") },
        };
        await using var execution = await harness.Executor.PrepareAsync(request, CancellationToken.None);

        await harness.Executor.SweepAsync(new HashSet<long>(), CancellationToken.None);
        var result = await execution.RunStepAsync(DockerHarness.Step(0, "echo still here"), new RecordingSink(), CancellationToken.None);

        Assert.That(await harness.CountContainersAsync(attempt), Is.EqualTo(2));
        Assert.That(result.ExitCode, Is.Zero);
    }

    [Test]
    public async Task Sweep_ContainerYoungerThanTheMinimumAge_IsLeftForALaterSweep()
    {
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.FromHours(1) });
        var attempt = DockerHarness.NextAttempt();
        await CreateLabelledAsync(harness, attempt);

        await harness.Executor.SweepAsync(new HashSet<long>(), CancellationToken.None);

        Assert.That(await harness.CountContainersAsync(attempt), Is.EqualTo(1));
    }

    [Test]
    public async Task Sweep_AnotherOwnersContainer_IsNotTouched()
    {
        await using var mine = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.Zero });
        await using var other = await DockerHarness.StartAsync();
        var attempt = DockerHarness.NextAttempt();
        await CreateLabelledAsync(other, attempt);

        await mine.Executor.SweepAsync(new HashSet<long>(), CancellationToken.None);

        Assert.That(await other.CountContainersAsync(attempt), Is.EqualTo(1));
    }

    [Test]
    public async Task Routing_Sweep_IsForwardedToTheDockerExecutor()
    {
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.Zero });
        var attempt = DockerHarness.NextAttempt();
        await CreateLabelledAsync(harness, attempt);
        IExecutor routing = new RoutingExecutor(new ShellExecutor(new Modules.Hosting.DataDirectory(harness.DataRoot),
            Microsoft.Extensions.Options.Options.Create(new ShellExecutorOptions()),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ShellExecutor>.Instance), harness.Executor);

        await routing.SweepAsync(new HashSet<long>(), CancellationToken.None);

        Assert.That(await harness.CountContainersAsync(attempt), Is.Zero);
    }

    /// <summary>A running container with the harness's labels, made through the engine's API as a crashed
    /// removal would leave it.</summary>
    private static async Task CreateLabelledAsync(DockerHarness harness, long attempt)
    {
        using var client = DockerHarness.Client((await DockerEngine.SharedAsync()).Endpoint);
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerEngine.BusyboxImage,
            Cmd = ["sleep", "300"],
            Labels = new Dictionary<string, string>
            {
                [DockerExecutor.AttemptLabel] = attempt.ToString(CultureInfo.InvariantCulture),
                [DockerExecutor.OwnerLabel] = harness.Executor.WorkRoot,
            },
            HostConfig = new HostConfig { NetworkMode = "none" },
        });
        await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
    }
}
