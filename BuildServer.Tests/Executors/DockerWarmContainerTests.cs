using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;
using BuildServer.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace BuildServer.Tests.Executors;

/// <summary>Containers created ahead of the next job (<see cref="DockerExecutorOptions.WarmContainers"/>) on the real
/// engine: taken by a job that fits, never by one that does not, one job each, and nothing left afterwards.</summary>
[TestFixture]
public sealed class DockerWarmContainerTests
{
    [Test]
    public async Task WarmContainer_IsCreatedAfterAJob_TakenByTheNextOne_AndRemovedWithTheExecutor()
    {
        var harness = await DockerHarness.StartAsync(warm: 1);
        try
        {
            await RunAsync(harness, "echo first");
            await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromSeconds(30), "a container created ahead");
            var waiting = (await OursAsync(harness)).Single();
            Assert.That(waiting.Labels.ContainsKey(DockerExecutor.AttemptLabel), Is.False, "a container created ahead belongs to no attempt yet");

            var attempt = DockerHarness.NextAttempt();
            var sink = new RecordingSink();
            await using (var execution = (DockerExecution)await harness.Executor.PrepareAsync(DockerHarness.Request(attempt), CancellationToken.None))
            {
                Assert.That(execution.ContainerId, Is.EqualTo(waiting.ID), "the job runs in the container that was waiting");
                var result = await execution.RunStepAsync(DockerHarness.Step(0, "ls -A | wc -l; echo made > out.txt; cat out.txt; echo \"$BUILDSERVER_WORKSPACE\""), sink, CancellationToken.None);
                Assert.That(result.ExitCode, Is.Zero);
                Assert.That(File.ReadAllText(execution.ToHostPath(execution.Workspace + "/out.txt")), Is.EqualTo("made\n"), "the workspace is mounted");
            }
            Assert.That(sink.Texts, Is.EqualTo(new[] { "0", "made", DockerExecution.WorkspacePath }), "an empty workspace, as a new container's");
            await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromSeconds(30), "the next container created ahead");
            var next = (await OursAsync(harness)).Single();
            Assert.That(next.ID, Is.Not.EqualTo(waiting.ID), "a container serves one job: the used one is gone");
        }
        finally
        {
            harness.Executor.Dispose();
        }
        Assert.That(await OursAsync(harness), Is.Empty, "disposing the executor removes the waiting container");
        Assert.That(Directory.Exists(harness.Executor.WorkRoot) ? Directory.GetDirectories(harness.Executor.WorkRoot) : [], Is.Empty, "and its folder");
        Directory.Delete(harness.DataRoot, recursive: true);
    }

    [Test]
    public async Task WarmContainer_OfOtherLimitsOrAReTaggedImage_IsNotGivenToTheJob()
    {
        await using var harness = await DockerHarness.StartAsync(warm: 1);
        var image = "local/warm-retag:" + Guid.NewGuid().ToString("N")[..8];
        using var client = DockerHarness.Client((await DockerEngine.SharedAsync()).Endpoint);
        await TagAsync(client, DockerEngine.BusyboxImage, image);
        try
        {
            await RunAsync(harness, "true", image);
            await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromSeconds(30), "a container created ahead");
            var waiting = (await OursAsync(harness)).Single().ID;

            // Other limits: a container of its own; the waiting one stays for a job that fits it.
            await using (var limited = (DockerExecution)await harness.Executor.PrepareAsync(Request(image, "--memory 96m"), CancellationToken.None))
            {
                Assert.That(limited.ContainerId, Is.Not.EqualTo(waiting));
            }

            // The tag now names another image: the waiting container runs the old one, so it is dropped, not given out.
            await TagAsync(client, DockerHarness.ServiceImage, image);
            await using (var retagged = (DockerExecution)await harness.Executor.PrepareAsync(Request(image), CancellationToken.None))
            {
                Assert.That(retagged.ContainerId, Is.Not.EqualTo(waiting));
                var inspected = await client.Containers.InspectContainerAsync(retagged.ContainerId);
                var current = await client.Images.InspectImageAsync(image);
                Assert.That(inspected.Image, Is.EqualTo(current.ID), "the job runs the image the tag names now");
            }
            await Eventually.Until(() => OursAsync(harness), all => all.All(c => c.ID != waiting), TimeSpan.FromSeconds(30), "the stale container removed");
        }
        finally
        {
            await client.Images.DeleteImageAsync(image, new ImageDeleteParameters());
        }
    }

    [Test]
    public async Task Sweep_LeavesTheWaitingContainerAlone_AndRemovesOneThePoolLost()
    {
        await using var harness = await DockerHarness.StartAsync(new DockerExecutorOptions { SweepMinAge = TimeSpan.Zero }, warm: 1);
        await RunAsync(harness, "true");
        await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromSeconds(30), "a container created ahead");
        var waiting = (await OursAsync(harness)).Single().ID;
        using var client = DockerHarness.Client((await DockerEngine.SharedAsync()).Endpoint);
        var lost = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerEngine.BusyboxImage,
            Cmd = ["sleep", "300"],
            Labels = new Dictionary<string, string> { [DockerExecutor.OwnerLabel] = harness.Executor.WorkRoot, [DockerExecutor.WarmLabel] = "lost" },
            HostConfig = new HostConfig { NetworkMode = "none" },
        });
        var lostFolder = Directory.CreateDirectory(Path.Combine(harness.Executor.WorkRoot, DockerExecutor.WarmPrefix + "lost")).FullName;

        await harness.Executor.SweepAsync(new HashSet<long>(), CancellationToken.None);

        Assert.That((await OursAsync(harness)).Select(c => c.ID), Is.EqualTo(new[] { waiting }));
        Assert.That(Directory.Exists(lostFolder), Is.False);
        Assert.That(harness.Executor.WarmReady, Is.EqualTo(1));
        Assert.That((await OursAsync(harness)).Any(c => c.ID == lost.ID), Is.False, "the container no pool or job knows is gone");
    }

    [Test]
    public async Task CancelledStep_InAWarmContainer_RemovesItWithinFiveSeconds()
    {
        await using var harness = await DockerHarness.StartAsync(warm: 1);
        await RunAsync(harness, "true");
        await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromSeconds(30), "a container created ahead");
        var waiting = (await OursAsync(harness)).Single().ID;
        await using var execution = (DockerExecution)await harness.Executor.PrepareAsync(DockerHarness.Request(DockerHarness.NextAttempt()), CancellationToken.None);
        Assert.That(execution.ContainerId, Is.EqualTo(waiting));
        using var cancel = new CancellationTokenSource();
        var started = new StartedSink("sleeping");

        var step = execution.RunStepAsync(DockerHarness.Step(0, "echo sleeping; sleep 300"), started, cancel.Token);
        await started.Started.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        var result = await step.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.That(result.Cancelled, Is.True);
        await Eventually.Until(() => OursAsync(harness), all => all.All(c => c.ID != waiting), TimeSpan.FromSeconds(5), "the job's container gone");
    }

    private static ExecutionRequest Request(string image, string? options = null) =>
        new(DockerHarness.NextAttempt(), new Dictionary<string, string>())
        {
            Container = new ExecutionContainer(image, new Dictionary<string, string>(), options),
        };

    private static async Task RunAsync(DockerHarness harness, string script, string image = DockerEngine.BusyboxImage)
    {
        await using var execution = await harness.Executor.PrepareAsync(Request(image), CancellationToken.None);
        var result = await execution.RunStepAsync(DockerHarness.Step(0, script), new RecordingSink(), CancellationToken.None);
        Assert.That(result.ExitCode, Is.Zero);
    }

    private static async Task TagAsync(Docker.DotNet.DockerClient client, string source, string target)
    {
        var colon = target.LastIndexOf(':');
        await client.Images.TagImageAsync(source, new ImageTagParameters { RepositoryName = target[..colon], Tag = target[(colon + 1)..] });
    }

    /// <summary>This harness's containers, through a client of the test's own (the executor's may be disposed).</summary>
    private static async Task<IList<ContainerListResponse>> OursAsync(DockerHarness harness)
    {
        using var client = DockerHarness.Client((await DockerEngine.SharedAsync()).Endpoint);
        return await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{DockerExecutor.OwnerLabel}={harness.Executor.WorkRoot}"] = true },
            },
        });
    }
}
