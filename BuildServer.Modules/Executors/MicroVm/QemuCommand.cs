using System.Globalization;

namespace BuildServer.Modules.Executors.MicroVm;

public enum Acceleration
{
    /// <summary>Hardware virtualisation through <c>/dev/kvm</c>.</summary>
    Kvm,

    /// <summary>QEMU's software CPU: works everywhere, CPU-bound work is 6–10× slower.</summary>
    Tcg,
}

/// <summary>What one VM is made of: the files and sockets of its work folder and the agent's limits.</summary>
/// <param name="Control">The control port's socket (QEMU connects to it); <see cref="Stdout"/> and <see cref="Stderr"/> the steps' output.</param>
internal sealed record VmSpec(
    Acceleration Acceleration,
    GuestImage Image,
    string Disk,
    string? RootFs,
    int MemoryMb,
    int Cpus,
    bool Network,
    string Control,
    string Stdout,
    string Stderr);

/// <summary>The QEMU command line of a job VM: the <c>microvm</c> machine (no PCI, no firmware, virtio over MMIO),
/// the job disk as <c>/dev/vda</c>, the root file system read-only as <c>/dev/vdb</c>, three virtio-serial ports
/// (control, stdout, stderr) and the console on QEMU's stdout. No network device unless allowed. The KVM and TCG
/// paths differ only in the accelerator, the CPU model and the TSC rate TCG needs on the kernel command line.</summary>
internal static class QemuCommand
{
    public static List<string> Arguments(VmSpec vm, double hostCpuMhz)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var args = new List<string>
        {
            "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
        };
        args.AddRange(vm.Acceleration == Acceleration.Kvm
            ? ["-accel", "kvm", "-cpu", "host"]
            : ["-accel", "tcg,thread=multi", "-cpu", "max"]);
        args.AddRange(
        [
            "-m", vm.MemoryMb.ToString(CultureInfo.InvariantCulture),
            "-smp", vm.Cpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", vm.Image.Kernel, "-initrd", vm.Image.Initramfs,
            "-drive", $"id=job,file={Escape(vm.Disk)},format=raw,if=none,cache=unsafe",
            "-device", "virtio-blk-device,drive=job",
        ]);
        if (vm.RootFs is { } rootFs)
        {
            args.AddRange(["-drive", $"id=rootfs,file={Escape(rootFs)},format=raw,if=none,readonly=on", "-device", "virtio-blk-device,drive=rootfs"]);
        }
        args.AddRange(
        [
            "-device", "virtio-serial-device,max_ports=4",
            "-chardev", $"socket,id=ctl,path={Escape(vm.Control)}", "-device", "virtserialport,chardev=ctl,name=bs.ctl,nr=1",
            "-chardev", $"socket,id=out,path={Escape(vm.Stdout)}", "-device", "virtserialport,chardev=out,name=bs.out,nr=2",
            "-chardev", $"socket,id=err,path={Escape(vm.Stderr)}", "-device", "virtserialport,chardev=err,name=bs.err,nr=3",
        ]);
        // QEMU's user network reaches the host (10.0.2.2 is its loopback) and whatever the host reaches: only on request.
        args.AddRange(vm.Network
            ? ["-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0"]
            : ["-nic", "none"]);
        args.AddRange(["-append", KernelCommandLine(vm, hostCpuMhz)]);
        return args;
    }

    public static string KernelCommandLine(VmSpec vm, double hostCpuMhz)
    {
        var line = "console=ttyS0 quiet loglevel=3 panic=-1 pci=off cryptomgr.notests";
        // Under TCG the guest's TSC runs at the host's rate, and calibrating it against the PIT fails when the host is
        // busy (the boot then hangs): give the rate (MICROVM.md).
        if (vm.Acceleration == Acceleration.Tcg && hostCpuMhz > 0)
        {
            line += $" tsc_early_khz={((long)(hostCpuMhz * 1000)).ToString(CultureInfo.InvariantCulture)}";
        }
        if (vm.Network) line += " mvm.net=1";
        if (vm.RootFs is not null) line += " mvm.rootfs=1";
        return line;
    }

    /// <summary>The host's CPU clock from <c>/proc/cpuinfo</c>, in MHz; 0 when unknown.</summary>
    public static double HostCpuMhz()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("cpu MHz", StringComparison.Ordinal)) continue;
                var value = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) ? mhz : 0;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>QEMU's option syntax: a comma in a value is written twice.</summary>
    private static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    public static Acceleration? Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "kvm" => Acceleration.Kvm,
        "tcg" => Acceleration.Tcg,
        _ => null,
    };
}
