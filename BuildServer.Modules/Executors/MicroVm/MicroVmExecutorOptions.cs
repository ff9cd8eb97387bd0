namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>The <c>Executors:MicroVm</c> section of appsettings.json. Its presence turns the microVM executor on:
/// jobs whose <c>runs-on</c> names the label <c>microvm</c> (or every job without <c>container:</c>, with
/// <see cref="AllJobs"/>) then run in a fresh virtual machine with its own kernel.</summary>
public sealed class MicroVmExecutorOptions
{
    public const string Section = "Executors:MicroVm";

    /// <summary>Run every job without <c>container:</c> in a VM (an agent for untrusted code), not only those asking
    /// for the label <c>microvm</c>.</summary>
    public bool AllJobs { get; set; }

    /// <summary>The QEMU program (<c>qemu-system-x86_64</c> from Debian's <c>qemu-system-x86</c>).</summary>
    public string Qemu { get; set; } = "qemu-system-x86_64";

    /// <summary>The guest kernel (a Debian <c>vmlinuz</c>); null for the newest <c>/boot/vmlinuz-*-cloud-amd64</c>,
    /// else the newest <c>/boot/vmlinuz-*</c>. Its modules come from <c>/lib/modules/&lt;version&gt;</c>.</summary>
    public string? Kernel { get; set; }

    /// <summary><c>kvm</c>, <c>tcg</c> (QEMU's software CPU) or <c>auto</c>: probe once whether KVM boots a guest,
    /// else use TCG with a warning in the agent's log and in each job's log.</summary>
    public string Acceleration { get; set; } = "auto";

    /// <summary>The VM's memory in MiB (the guest kernel's share included).</summary>
    public int MemoryMb { get; set; } = 1024;

    /// <summary>The VM's virtual CPUs.</summary>
    public int Cpus { get; set; } = 1;

    /// <summary>The size of the job disk (the workspace and the temp folder), sparse on the host.</summary>
    public string Disk { get; set; } = "4g";

    /// <summary>An ext4 (or squashfs) image of a root file system with build tools (e.g. made from
    /// <c>debootstrap</c>), attached read-only; steps run chrooted into it over a throwaway overlay. Null: the
    /// steps have busybox only.</summary>
    public string? RootFs { get; set; }

    /// <summary>Give the VM a network device (QEMU's user network, which reaches the host's network); without it
    /// the VM has a loopback device only.</summary>
    public bool AllowNetwork { get; set; }

    /// <summary>VMs kept booted and waiting for the next job (with an empty job disk), so that a job does not wait for a
    /// boot: 1 by default; 0 boots each job's VM when the job comes. Each costs its QEMU (~220 MB of host memory) while
    /// it waits. Jobs with a given workspace (<c>buildserver run</c>) always boot their own.</summary>
    public int WarmVms { get; set; } = 1;

    /// <summary>How long a VM may take from launch to its first command before the job fails as "the VM failed to boot".</summary>
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>The host-side limit on a VM's life, enforced by <c>timeout(1)</c> around QEMU, so it holds even when
    /// the agent itself dies.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Where the guest's kernel and initramfs are cached; null for <c>data/microvm</c>.</summary>
    public string? ImageCache { get; set; }

    /// <summary>Keep an attempt's work folder (the disk image, the console log) after it ends, for debugging.</summary>
    public bool KeepWorkFolders { get; set; }
}
