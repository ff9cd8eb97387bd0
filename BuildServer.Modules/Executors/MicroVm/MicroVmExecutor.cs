using System.Diagnostics;
using System.Globalization;
using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>
/// Runs a job's steps in a fresh virtual machine with its own kernel, one per attempt (QEMU's <c>microvm</c>
/// machine). The attempt's folder <c>data/microvm-work/&lt;attempt&gt;/</c> holds the job disk (an ext4 image made
/// with <c>mke2fs -d</c> from the workspace, the temp folder and the step files), the sockets of the VM's ports and
/// nothing else; the guest's kernel and initramfs are built once into <c>data/microvm/</c> (<see cref="GuestImage"/>).
/// The guest's init (<c>guest-init.sh</c>) runs each step the host sends and answers with its exit code.
/// See docs/executors.md and ADR 0011.
/// </summary>
internal sealed class MicroVmExecutor : IExecutor, IDisposable
{
    private readonly DataDirectory data;
    private readonly IOptions<MicroVmExecutorOptions> options;
    private readonly ILogger<MicroVmExecutor> logger;

    public MicroVmExecutor(DataDirectory data, IOptions<MicroVmExecutorOptions> options, ILogger<MicroVmExecutor> logger)
    {
        (this.data, this.options, this.logger) = (data, options, logger);
        _pool = new WarmPool(this);
    }

    /// <summary>The job disk's mount point in the guest; the workspace, temp and step folders are under it.</summary>
    public const string GuestRoot = "/__w";

    // A sweep spares what is younger: a folder being made for an attempt the agent has not yet counted as running.
    private static readonly TimeSpan SweepMinAge = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _imageLock = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);
    private readonly WarmPool _pool;
    private GuestImage? _image;
    private Task<(Acceleration Acceleration, string? Warning)>? _acceleration;
    private readonly object _accelerationLock = new();

    public string Name => "microvm";

    public bool RunsMicroVms => true;

    internal MicroVmExecutorOptions Options => options.Value;

    internal ILogger Logger => logger;

    internal string WorkRoot => data.Folder("microvm-work");

    /// <summary>VMs booted and waiting for a job.</summary>
    internal int WarmReady => _pool.Count;

    public async Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var image = await ImageAsync(cancellationToken);
        var (acceleration, warning) = await AccelerationAsync(image, cancellationToken);
        // An agent's job starts in an empty workspace: a VM booted beforehand with an empty disk is just as good, and
        // its boot is off the job's path (or partly, when it is still booting). A given workspace (buildserver run)
        // has to go into the disk first.
        if (request.Workspace is null && options.Value.WarmVms > 0)
        {
            var warm = await _pool.TakeAsync(cancellationToken);
            _pool.Refill(stopping => BootAsync(Path.Combine(WorkRoot, "warm-" + Guid.NewGuid().ToString("N")[..12]), null, image, acceleration, stopping));
            if (warm is not null) return new MicroVmExecution(this, request, warm.Guest, warm.Root, warm.Stage, warning);
        }
        var root = Path.Combine(WorkRoot, request.AttemptId.ToString(CultureInfo.InvariantCulture));
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true); // a crashed earlier try of this attempt
        var booted = await BootAsync(root, request.Workspace, image, acceleration, cancellationToken);
        return new MicroVmExecution(this, request, booted.Guest, booted.Root, booted.Stage, warning);
    }

    /// <summary>Makes a VM's work folder and job disk (with a copy of <paramref name="workspace"/>, if given) and boots
    /// it until its init is ready.</summary>
    private async Task<WarmVm> BootAsync(string root, string? workspace, GuestImage image, Acceleration acceleration, CancellationToken cancellationToken)
    {
        _active[root] = 0;
        var stage = Directory.CreateDirectory(Path.Combine(root, "disk"));
        try
        {
            var inside = Directory.CreateDirectory(Path.Combine(stage.FullName, "workspace")).FullName;
            Directory.CreateDirectory(Path.Combine(stage.FullName, "_temp"));
            Directory.CreateDirectory(Path.Combine(stage.FullName, "_steps"));
            if (workspace is not null) await Tools.RunAsync("cp", ["-a", $"{Path.GetFullPath(workspace)}/.", inside], cancellationToken);
            var disk = Path.Combine(root, "disk.img");
            await using (var file = File.Create(disk))
            {
                file.SetLength(Docker.ContainerLimits.ParseBytes(options.Value.Disk, "Executors:MicroVm:Disk")); // sparse: the job's disk budget
            }
            await Tools.RunAsync("mke2fs", ["-q", "-t", "ext4", "-F", "-E", "root_owner=0:0", "-d", stage.FullName, disk], cancellationToken);
            var vm = new VmSpec(acceleration, image, disk, options.Value.RootFs, options.Value.MemoryMb, options.Value.Cpus, options.Value.AllowNetwork,
                Path.Combine(root, "ctl.sock"), Path.Combine(root, "out.sock"), Path.Combine(root, "err.sock"));
            var guest = await GuestVm.StartAsync(options.Value.Qemu, QemuCommand.Arguments(vm, QemuCommand.HostCpuMhz()), vm,
                options.Value.MaxLifetime, options.Value.BootTimeout, cancellationToken);
            return new WarmVm(guest, root, stage.FullName, DateTime.UtcNow);
        }
        catch
        {
            Forget(root);
            throw;
        }
    }

    private async Task<GuestImage> ImageAsync(CancellationToken cancellationToken)
    {
        if (_image is { } built) return built;
        await _imageLock.WaitAsync(cancellationToken);
        try
        {
            if (_image is null)
            {
                var started = Stopwatch.GetTimestamp();
                _image = await GuestImage.EnsureAsync(options.Value.ImageCache ?? data.Folder("microvm"), options.Value.Kernel, cancellationToken);
                logger.LogInformation("The microVM guest is kernel {Version} ({Kernel}), initramfs {Initramfs} ({Elapsed:0} ms to find or build)",
                    _image.KernelVersion, _image.Kernel, _image.Initramfs, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            return _image;
        }
        finally
        {
            _imageLock.Release();
        }
    }

    /// <summary>The configured accelerator; for <c>auto</c>, probed once: KVM when <c>/dev/kvm</c> opens and a guest
    /// boots on it within a few seconds, else TCG with a warning.</summary>
    internal Task<(Acceleration Acceleration, string? Warning)> AccelerationAsync(GuestImage image, CancellationToken cancellationToken)
    {
        lock (_accelerationLock)
        {
            return _acceleration ??= ChooseAsync(image);
        }
    }

    private async Task<(Acceleration, string?)> ChooseAsync(GuestImage image)
    {
        var configured = options.Value.Acceleration;
        if (QemuCommand.Parse(configured) is { } fixedChoice) return (fixedChoice, null);
        if (!string.Equals(configured.Trim(), "auto", StringComparison.OrdinalIgnoreCase))
        {
            throw new ExecutorException($"Executors:MicroVm:Acceleration is '{configured}'; it must be kvm, tcg or auto");
        }
        var why = await KvmProbe.WhyNotAsync(this, image);
        if (why is null)
        {
            logger.LogInformation("microVMs run on KVM");
            return (Acceleration.Kvm, null);
        }
        var warning = $"KVM cannot run this job's VM here ({why}); it runs under TCG, QEMU's software CPU, where CPU-bound work is 6-10x slower";
        logger.LogWarning("microVMs run under TCG: KVM cannot boot a guest here ({Reason}); CPU-bound work is 6-10x slower", why);
        return (Acceleration.Tcg, warning);
    }

    /// <summary>Kills the VMs a crashed earlier start of this agent left (QEMU processes whose disk is in this agent's
    /// work folder) and removes their folders.</summary>
    public async Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        var marker = WorkRoot + "/";
        foreach (var pid in Tools.ProcessesWhoseCommandLineHas(marker))
        {
            logger.LogWarning("Killing VM process {Pid}, left by an earlier start", pid);
            ProcessGroups.KillProcess(pid);
        }
        await Task.Yield();
        if (options.Value.KeepWorkFolders || !Directory.Exists(WorkRoot)) return;
        foreach (var dir in Directory.EnumerateDirectories(WorkRoot)
                     .Where(d => long.TryParse(Path.GetFileName(d), out _) || Path.GetFileName(d).StartsWith("warm-", StringComparison.Ordinal)))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public void Dispose()
    {
        _pool.Dispose();
        _imageLock.Dispose();
    }

    /// <summary>Kills the VMs, and removes the folders, of attempts this agent no longer runs (what a failed cleanup
    /// left); its own executions and folders younger than a few seconds are spared.</summary>
    public Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runningAttempts);
        if (!Directory.Exists(WorkRoot)) return Task.CompletedTask;
        foreach (var dir in Directory.EnumerateDirectories(WorkRoot))
        {
            if (!long.TryParse(Path.GetFileName(dir), out var attempt) || runningAttempts.Contains(attempt) || _active.ContainsKey(dir)) continue;
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < SweepMinAge) continue;
            foreach (var pid in Tools.ProcessesWhoseCommandLineHas(dir + "/"))
            {
                logger.LogWarning("Killing VM process {Pid} of attempt {Attempt}, which this agent no longer runs", pid, attempt);
                ProcessGroups.KillProcess(pid);
            }
            if (!options.Value.KeepWorkFolders) Forget(dir);
        }
        return Task.CompletedTask;
    }

    internal void Forget(string root)
    {
        _active.TryRemove(root, out _);
        if (options.Value.KeepWorkFolders || !Directory.Exists(root)) return;
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(e, "Could not remove the VM's work folder {Folder}", root);
        }
    }
}
