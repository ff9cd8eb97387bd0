using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.MicroVm;
using BuildServer.Tests.Infrastructure;

namespace BuildServer.Tests.Executors;

/// <summary>What the microVM executor leaves behind, its choice of accelerator, and its options (real QEMU, TCG here).</summary>
[TestFixture]
public sealed class MicroVmLifecycleTests
{
    [Test]
    public async Task FiftyJobs_SucceedingFailingAndCancelled_LeaveNoVmAndNoFolder()
    {
        using var harness = new MicroVmHarness();
        var outcomes = new List<StepResult>();

        // Two at a time, as an agent with two slots runs them.
        for (var pair = 0; pair < 25; pair++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => RunJobAsync(harness, (pair * 2) + i)));
            outcomes.AddRange(results);
        }

        Assert.Multiple(() =>
        {
            Assert.That(outcomes.Count(o => o is { ExitCode: 0, Cancelled: false }), Is.EqualTo(33));
            Assert.That(outcomes.Count(o => o is { ExitCode: 7, Cancelled: false }), Is.EqualTo(9));
            Assert.That(outcomes.Count(o => o.Cancelled), Is.EqualTo(8));
            Assert.That(harness.CountVms(), Is.Zero, "no QEMU process is left");
            Assert.That(harness.CountWorkFolders(), Is.Zero, "no work folder (disk image, sockets) is left");
        });
    }

    private static async Task<StepResult> RunJobAsync(MicroVmHarness harness, int job)
    {
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new StartedSink("started");
        switch (job % 6)
        {
            case 1:
                return await execution.RunStepAsync(MicroVmHarness.Step(0, "exit 7"), sink, CancellationToken.None);
            case 4:
                using (var cancel = new CancellationTokenSource())
                {
                    var running = execution.RunStepAsync(MicroVmHarness.Step(0, "echo started\nsleep 600 &\nwait"), sink, cancel.Token);
                    await sink.Started.WaitAsync(TimeSpan.FromMinutes(2));
                    await cancel.CancelAsync();
                    return await running;
                }
            default:
                // A background process the step leaves running dies with the VM.
                return await execution.RunStepAsync(MicroVmHarness.Step(0, "sleep 600 &\necho done"), sink, CancellationToken.None);
        }
    }

    [Test]
    public async Task RemoveLeftovers_AfterAnAgentCrash_KillsItsVmsAndRemovesTheirFolders()
    {
        using var harness = new MicroVmHarness();
        var crashed = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        Assert.That(harness.CountVms(), Is.EqualTo(1));

        // The next start of the agent: a new executor over the same data folder.
        using var restarted = new MicroVmHarness(harness.Options, harness.DataRoot);
        await restarted.Executor.RemoveLeftoversAsync(CancellationToken.None);

        await Eventually.Until(() => harness.CountVms() == 0, TimeSpan.FromSeconds(5), "the crashed agent's VM to be killed");
        Assert.That(harness.CountWorkFolders(), Is.Zero);
        await crashed.DisposeAsync();
    }

    [Test]
    public async Task Sweep_KillsTheVmOfAnAttemptNoLongerRunning_AndSparesRunningAndOwnOnes()
    {
        using var harness = new MicroVmHarness();
        var running = MicroVmHarness.NextAttempt();
        var orphan = MicroVmHarness.NextAttempt();
        await using var own = await harness.Executor.PrepareAsync(MicroVmHarness.Request(running), CancellationToken.None);
        // An orphan: a VM an earlier executor over the same folder started and never cleaned up.
        using var earlier = new MicroVmHarness(harness.Options, harness.DataRoot);
        var left = await earlier.Executor.PrepareAsync(MicroVmHarness.Request(orphan), CancellationToken.None);
        Assert.That(harness.CountVms(), Is.EqualTo(2));
        var past = DateTime.UtcNow.AddMinutes(-5);
        foreach (var dir in Directory.GetDirectories(harness.Executor.WorkRoot)) Directory.SetLastWriteTimeUtc(dir, past);

        await harness.Executor.SweepAsync(new HashSet<long>(), CancellationToken.None);

        await Eventually.Until(() => harness.CountVms() == 1, TimeSpan.FromSeconds(5), "the orphan's VM to be killed");
        Assert.That(Directory.GetDirectories(harness.Executor.WorkRoot).Select(Path.GetFileName),
            Is.EqualTo(new[] { running.ToString(System.Globalization.CultureInfo.InvariantCulture) }), "the executor's own running VM is spared");
        var sink = new RecordingSink();
        Assert.That((await own.RunStepAsync(MicroVmHarness.Step(0, "echo alive"), sink, CancellationToken.None)).ExitCode, Is.Zero);
        await left.DisposeAsync();
    }

    [Test]
    public async Task WarmVm_IsBootedAheadAndTakenByTheNextJob_AndNothingIsLeftAfterwards()
    {
        var options = MicroVmHarness.Tcg();
        options.WarmVms = 1;
        var harness = new MicroVmHarness(options);
        try
        {
            // The first job boots its own VM, and starts the pool's first boot.
            await using (var first = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None))
            {
                await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromMinutes(2), "a VM booted ahead beside the job's");
                Assert.That(harness.CountVms(), Is.EqualTo(2));
            }
            Assert.That(harness.CountVms(), Is.EqualTo(1), "the first job's VM is gone; the warm one waits");
            var warmFolder = Directory.GetDirectories(harness.Executor.WorkRoot).Single();
            Assert.That(Path.GetFileName(warmFolder), Does.StartWith("warm-"));

            var attempt = MicroVmHarness.NextAttempt();
            var sink = new RecordingSink();
            await using (var second = await harness.Executor.PrepareAsync(MicroVmHarness.Request(attempt), CancellationToken.None))
            {
                Assert.That(Directory.Exists(warmFolder), Is.True, "the second job runs in the VM that was waiting");
                var result = await second.RunStepAsync(MicroVmHarness.Step(0, "echo \"$BUILDSERVER_ATTEMPT_ID\" $(ls -A | wc -l)"), sink, CancellationToken.None);
                Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
                await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromMinutes(2), "the pool to boot the next one");
            }
            Assert.That(Directory.Exists(warmFolder), Is.False, "the job's VM and folder went with it");
            Assert.That(sink.Texts, Is.EqualTo(new[] { $"{attempt} 0" }), "the job's own environment, an empty workspace");
        }
        finally
        {
            harness.Executor.Dispose();
        }
        Assert.That(harness.CountVms(), Is.Zero, "disposing the executor kills the VM waiting");
        Assert.That(harness.CountWorkFolders(), Is.Zero);
        harness.Dispose();
    }

    [Test]
    public async Task WarmVm_StillBooting_IsWaitedForByTheNextJob_InsteadOfBootingAnother()
    {
        var options = MicroVmHarness.Tcg();
        options.WarmVms = 1;
        using var harness = new MicroVmHarness(options);
        await using (await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None))
        {
            await Eventually.Until(() => harness.Executor.WarmReady == 1, TimeSpan.FromMinutes(2), "a VM booted ahead");
        }
        // The second job takes the VM waiting, which starts the refill's boot; the third comes right behind, while that
        // boot runs (it takes seconds under TCG).
        await using var second = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var attempt = MicroVmHarness.NextAttempt();
        await using var third = await harness.Executor.PrepareAsync(MicroVmHarness.Request(attempt), CancellationToken.None);

        Assert.That(Directory.Exists(Path.Combine(harness.Executor.WorkRoot, attempt.ToString(System.Globalization.CultureInfo.InvariantCulture))), Is.False,
            "the third job did not boot a VM of its own: it took the one the refill was booting");
        var sink = new RecordingSink();
        Assert.That((await third.RunStepAsync(MicroVmHarness.Step(0, "echo ok"), sink, CancellationToken.None)).ExitCode, Is.Zero);
        Assert.That(sink.Texts, Is.EqualTo(new[] { "ok" }));
    }

    [Test]
    public async Task Auto_ProbesKvmOnce_AndTellsTheJobWhenItFallsBackToTcg()
    {
        var options = MicroVmHarness.Tcg();
        options.Acceleration = "auto";
        using var harness = new MicroVmHarness(options);
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(MicroVmHarness.Step(0, "echo ran"), sink, CancellationToken.None);
        var image = await GuestImage.EnsureAsync(MicroVmHarness.ImageCache, null, CancellationToken.None);
        var (chosen, warning) = await harness.Executor.AccelerationAsync(image, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        if (chosen == Acceleration.Tcg)
        {
            // This machine: /dev/kvm is a PVM device on which a stock kernel does not boot (MICROVM.md).
            Assert.That(warning, Does.StartWith("KVM cannot run this job's VM here ("));
            Assert.That(sink.Texts[0], Is.EqualTo($"Note: {warning}."), "the job's log says why it runs slowly");
        }
        else
        {
            Assert.That(warning, Is.Null);
            Assert.That(sink.Texts, Is.EqualTo(new[] { "ran" }));
        }
        Assert.That(sink.Texts[^1], Is.EqualTo("ran"));
    }

    [Test]
    public void Arguments_Kvm_UseTheHostCpuAndNoTscRate_Tcg_TheSoftwareCpuWithTheHostsTscRate()
    {
        var image = new GuestImage("/cache/kernel", "/cache/initramfs.cpio", "6.1.0-test");
        VmSpec Spec(Acceleration acceleration, bool network = false, string? rootFs = null) =>
            new(acceleration, image, "/work/1/disk.img", rootFs, 512, 2, network, "/work/1/ctl.sock", "/work/1/out.sock", "/work/1/err.sock");

        var kvm = QemuCommand.Arguments(Spec(Acceleration.Kvm), 2400.5);
        var tcg = QemuCommand.Arguments(Spec(Acceleration.Tcg), 2400.5);
        var networked = QemuCommand.Arguments(Spec(Acceleration.Tcg, network: true, rootFs: "/images/debian,1.ext4"), 2400.5);

        Assert.Multiple(() =>
        {
            Assert.That(Pairs(kvm), Does.Contain("-accel kvm").And.Contain("-cpu host").And.Contain("-m 512").And.Contain("-smp 2").And.Contain("-nic none"));
            Assert.That(kvm[^1], Does.Not.Contain("tsc_early_khz"));
            Assert.That(Pairs(tcg), Does.Contain("-accel tcg,thread=multi").And.Contain("-cpu max").And.Contain("-nic none"));
            Assert.That(tcg[^1], Does.Contain(" tsc_early_khz=2400500").And.Contain("console=ttyS0").And.Not.Contain("mvm.net"));
            Assert.That(kvm.Where((_, i) => i == 0 || kvm[i - 1] is not ("-accel" or "-cpu" or "-append")),
                Is.EqualTo(tcg.Where((_, i) => i == 0 || tcg[i - 1] is not ("-accel" or "-cpu" or "-append"))), "the rest of the command is the same");
            Assert.That(Pairs(networked), Does.Contain("-device virtio-net-device,netdev=net0").And.Not.Contain("-nic none"));
            Assert.That(networked[^1], Does.Contain(" mvm.net=1"));
            Assert.That(Pairs(networked), Does.Contain("-drive id=rootfs,file=/images/debian,,1.ext4,format=raw,if=none,readonly=on"), "a comma in a path is escaped");
        });

        static List<string> Pairs(List<string> args) => [.. args.Zip(args.Skip(1), (a, b) => $"{a} {b}")];
    }

    [Test]
    public async Task AllowNetwork_TheVmReachesAServerOnTheHost()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = AnswerOnceAsync(listener);
        var options = MicroVmHarness.Tcg();
        options.AllowNetwork = true;
        using var harness = new MicroVmHarness(options);
        await using var execution = await harness.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        // QEMU's user network: 10.0.2.2 is the host's loopback.
        var result = await execution.RunStepAsync(MicroVmHarness.Step(0, $"echo hello | nc -w 5 10.0.2.2 {port}"), sink, CancellationToken.None);

        Assert.That(result.ExitCode, Is.Zero, string.Join('\n', sink.Texts));
        Assert.That(await accepted.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo("hello"));
        Assert.That(sink.Texts, Does.Contain("pong"));
    }

    private static async Task<string?> AnswerOnceAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        using var reader = new StreamReader(stream);
        var line = await reader.ReadLineAsync();
        await stream.WriteAsync("pong\n"u8.ToArray());
        return line;
    }

    [Test]
    public async Task RootFs_StepsRunChrootedWithItsTools_AndTheDefaultShellIsBash()
    {
        using var harness = new MicroVmHarness();
        var rootFs = await BashRootFsAsync(harness.DataRoot);
        var options = MicroVmHarness.Tcg();
        options.RootFs = rootFs;
        using var withRootFs = new MicroVmHarness(options);
        await using var execution = await withRootFs.Executor.PrepareAsync(MicroVmHarness.Request(MicroVmHarness.NextAttempt()), CancellationToken.None);
        var sink = new RecordingSink();

        var result = await execution.RunStepAsync(MicroVmHarness.Step(0,
            "echo \"bash $BASH_VERSION\" | cut -c1-5\necho in > \"$GITHUB_WORKSPACE/made-in-rootfs\"\nfalse | true\necho after-pipefail"), sink, CancellationToken.None);
        var exists = await execution.DirectoryExistsAsync(execution.Workspace, CancellationToken.None);

        Assert.That(result.ExitCode, Is.EqualTo(1), "the default shell is bash -eo pipefail: `false | true` fails the step; " + string.Join('\n', sink.Texts));
        Assert.That(sink.Texts, Is.EqualTo(new[] { "bash " }));
        Assert.That(exists, Is.True);
    }

    /// <summary>An ext4 image with the host's bash, cut and their libraries: a stand-in for a debootstrap root file system.</summary>
    private static async Task<string> BashRootFsAsync(string folder)
    {
        var tree = Directory.CreateDirectory(Path.Combine(folder, "rootfs-tree")).FullName;
        foreach (var program in new[] { "/bin/bash", "/usr/bin/cut" })
        {
            Copy(program, tree);
            var ldd = Process.Start(new ProcessStartInfo("ldd", [program]) { RedirectStandardOutput = true })!;
            var libraries = await ldd.StandardOutput.ReadToEndAsync();
            await ldd.WaitForExitAsync();
            foreach (var library in libraries.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                         .Select(parts => parts.FirstOrDefault(p => p.StartsWith('/'))).OfType<string>())
            {
                Copy(library, tree);
            }
        }
        File.CreateSymbolicLink(Path.Combine(tree, "bin", "sh"), "bash");
        var image = Path.Combine(folder, "rootfs.ext4");
        await using (var file = File.Create(image))
        {
            file.SetLength(128L * 1024 * 1024);
        }
        var mke2fs = Process.Start("mke2fs", ["-q", "-t", "ext4", "-F", "-d", tree, image])!;
        await mke2fs.WaitForExitAsync();
        Assert.That(mke2fs.ExitCode, Is.Zero);
        return image;

        static void Copy(string path, string tree)
        {
            var target = Path.Combine(tree, path.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (!File.Exists(target)) File.Copy(path, target);
        }
    }
}
