using BuildServer.Tests.Infrastructure;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace BuildServer.Tests.Executors;

/// <summary>Workflows with <c>container:</c> through the real server, its built-in agent and the run's Docker engine.</summary>
[TestFixture]
[NonParallelizable]
public sealed class DockerServerTests
{
    private DockerEngine _engine = null!;
    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _engine = await DockerEngine.SharedAsync();
        await DockerHarness.EnsureServiceImageAsync(_engine.Endpoint);
        _server = await ServerProcess.StartAsync(Db.Sqlite, $"--Executors:Docker:Endpoint={_engine.Endpoint}");
        _api = _server.Client();
        await _api.CreateProjectAsync("containers");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task Workflow_WithContainer_RunsItsStepsInTheImage()
    {
        var run = await _api.TriggerRunAsync("containers", $$"""
            jobs:
              build:
                container:
                  image: {{DockerEngine.BusyboxImage}}
                  env: { GREETING: hello }
                steps:
                  - run: echo "$GREETING from $(busybox | head -n 1 | cut -d' ' -f1)"
                  - run: echo made > artifact.txt
                  - run: cat artifact.txt
            """);

        var finished = await _api.WaitForRunAsync(run);

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"), log);
        Assert.That(log, Does.Contain("hello from BusyBox").And.Contain("made"));
        Assert.That(await ServerContainersAsync(), Is.Zero, "the job's container is removed");
        await Eventually.Until(() => ServerContainersAsync(warm: true), count => count == 1, TimeSpan.FromSeconds(30),
            "one container created ahead for the next job of this image (Executors:Docker:WarmContainers = 1)");
    }

    [Test]
    public async Task RemoteAgent_WithDocker_RunsContainerJobsAndAdvertisesTheLabel()
    {
        var label = "remote-docker-" + Guid.NewGuid().ToString("N")[..8];
        await using var agent = await AgentProcess.StartAsync(_server, label, label, extraArgs: ["--docker", _engine.Endpoint.ToString()]);
        var run = await _api.TriggerRunAsync("containers", $$"""
            jobs:
              build:
                runs-on: [{{label}}, docker]
                container: {{DockerEngine.BusyboxImage}}
                steps:
                  - run: echo "ran on $RUNNER_NAME in $(busybox | head -n 1 | cut -d' ' -f1)"
            """);

        var finished = await _api.WaitForRunAsync(run);

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"), log + agent.Output);
        Assert.That(log, Does.Contain($"ran on {label} in BusyBox"));
    }

    [Test]
    public async Task BuiltInAgent_WithDockerExecutor_AdvertisesTheDockerLabel()
    {
        var agents = await ApiClient.ExpectAsync(await _api.Http.GetAsync("agents"), System.Net.HttpStatusCode.OK);

        var builtIn = agents.AsArray().Single(a => a!["kind"]!.GetValue<string>() == "builtin")!;
        Assert.That(builtIn["labels"]!.AsArray().Select(l => l!.GetValue<string>()), Does.Contain("docker").And.Contain("self-hosted"));
    }

    [Test]
    public async Task Workflow_WithUnsupportedContainerOption_FailsNamingIt()
    {
        var run = await _api.TriggerRunAsync("containers", $$"""
            jobs:
              build:
                container:
                  image: {{DockerEngine.BusyboxImage}}
                  options: --privileged
                steps:
                  - run: echo should not run
            """);

        var finished = await _api.WaitForRunAsync(run);

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("failed"));
        Assert.That(log, Does.Contain("container option '--privileged' is not supported").And.Not.Contain("should not run"));
    }

    [Test]
    public async Task Workflow_WithAService_ReachesItByNameAndLeavesNoContainer()
    {
        var run = await _api.TriggerRunAsync("containers", $$"""
            jobs:
              build:
                container: {{DockerEngine.BusyboxImage}}
                services:
                  web:
                    image: {{DockerHarness.ServiceImage}}
                    env:
                      SERVICE_SCRIPT: '{{DockerHarness.WebScript}}'
                    ports: ['8080:8080']
                    options: --health-cmd "wget -q -O /dev/null http://127.0.0.1:8080/" --health-interval 1s --health-retries 30
                steps:
                  - run: echo "service says $(wget -q -O - http://web:8080/) on $(wget -q -O - http://127.0.0.1:8080/)"
            """);

        var finished = await _api.WaitForRunAsync(run);

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"), log);
        Assert.That(log, Does.Contain("service says pong on pong"));
        Assert.That(await ServerContainersAsync(), Is.Zero, "the job's and the service's containers are removed");
    }

    [Test]
    public async Task Workflow_WithServicesButNoContainer_FailsWithTheReason()
    {
        var run = await _api.TriggerRunAsync("containers", $$"""
            jobs:
              build:
                services:
                  redis: {{DockerHarness.ServiceImage}}
                steps:
                  - run: echo should not run
            """);

        var finished = await _api.WaitForRunAsync(run);

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("failed"));
        Assert.That(log, Does.Contain("service containers (redis) but no 'container:'").And.Not.Contain("should not run"));
    }

    /// <summary>The server's containers of attempts (jobs' and services'), or those created ahead of a job.</summary>
    private async Task<int> ServerContainersAsync(bool warm = false)
    {
        using var client = new DockerClientBuilder().WithEndpoint(_engine.Endpoint).WithApiVersion(new System.Version(1, 41)).Build();
        var all = await client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        return all.Count(c => c.Labels.TryGetValue("buildserver.owner", out var owner) && owner.StartsWith(_server.DataDir, StringComparison.Ordinal)
                              && c.Labels.ContainsKey("buildserver.warm") == warm);
    }
}
