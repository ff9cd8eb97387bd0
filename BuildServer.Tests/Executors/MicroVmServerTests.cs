using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Executors;

/// <summary>Workflows with <c>runs-on: microvm</c> through the real server: its built-in agent and a remote agent
/// with <c>--microvm tcg</c>, each job in a real QEMU VM.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MicroVmServerTests
{
    private ServerProcess _server = null!;
    private ApiClient _api = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _server = await ServerProcess.StartAsync(Db.Sqlite, "--Executors:MicroVm:Acceleration=tcg", "--Executors:MicroVm:MemoryMb=256",
            "--Executors:MicroVm:Disk=256m", $"--Executors:MicroVm:ImageCache={MicroVmHarness.ImageCache}");
        _api = _server.Client();
        await _api.CreateProjectAsync("vms");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task Workflow_RunsOnMicrovm_RunsInAVmWithOutputsBetweenSteps()
    {
        var run = await _api.TriggerRunAsync("vms", """
            jobs:
              build:
                runs-on: [self-hosted, microvm]
                steps:
                  - id: kernel
                    run: |
                      echo "kernel=$(uname -r)" >> "$GITHUB_OUTPUT"
                      echo "inside $(cat /proc/1/comm)"
                      mkdir -p out
                  - working-directory: out
                    run: echo "kernel ${{ steps.kernel.outputs.kernel }} in $(pwd)"
                  - run: exit 4
                  - if: always()
                    run: echo cleanup ran
            """);

        var finished = await _api.WaitForRunAsync(run, TimeSpan.FromMinutes(3));

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("failed"), log);
        Assert.That(log, Does.Contain("inside init"), "the steps run in the VM, whose PID 1 is its own init");
        Assert.That(log, Does.Match(@"kernel \d+\.\d+\.\S+ in /__w/workspace/out"), "outputs and working-directory work across steps");
        Assert.That(log, Does.Contain("exited with code 4").And.Contain("cleanup ran"));
        // The job's VM is gone; one VM, booted ahead for the next job (Executors:MicroVm:WarmVms = 1), waits.
        await Eventually.Until(() => Modules.Executors.MicroVm.Tools.ProcessesWhoseCommandLineHas(_server.DataDir + "/", "qemu-system-x86_64").Count == 1,
            TimeSpan.FromMinutes(2), "only the VM waiting for the next job");
    }

    [Test]
    public async Task BuiltInAgent_WithMicroVmExecutor_AdvertisesTheLabel()
    {
        var agents = await ApiClient.ExpectAsync(await _api.Http.GetAsync("agents"), System.Net.HttpStatusCode.OK);

        var builtIn = agents.AsArray().Single(a => a!["kind"]!.GetValue<string>() == "builtin")!;
        Assert.That(builtIn["labels"]!.AsArray().Select(l => l!.GetValue<string>()), Does.Contain("microvm").And.Contain("self-hosted"));
    }

    [Test]
    public async Task RemoteAgent_WithMicrovm_RunsVmJobs()
    {
        var label = "remote-vm-" + Guid.NewGuid().ToString("N")[..8];
        await using var agent = await AgentProcess.StartAsync(_server, label, label, extraArgs: ["--microvm", "tcg"]);
        var run = await _api.TriggerRunAsync("vms", $$"""
            jobs:
              build:
                runs-on: [{{label}}, microvm]
                steps:
                  - run: echo "ran on $RUNNER_NAME in a VM with $(grep -c ^processor /proc/cpuinfo) vCPU"
            """);

        var finished = await _api.WaitForRunAsync(run, TimeSpan.FromMinutes(3));

        var log = await _api.JobLogAsync(ApiClient.Job(finished, "build")["id"]!.GetValue<long>());
        Assert.That(ApiClient.Status(finished), Is.EqualTo("succeeded"), log + agent.Output);
        Assert.That(log, Does.Contain($"ran on {label} in a VM with 1 vCPU"));
        Assert.That(log, Does.Not.Contain("KVM cannot run"), "tcg was asked for: there is no fallback to note");
    }
}
