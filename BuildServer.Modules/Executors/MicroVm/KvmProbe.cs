using System.Globalization;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>Whether KVM really runs a guest here: <c>/dev/kvm</c> may exist and open, and still not boot a stock
/// kernel (a PVM device, MICROVM.md). So <c>auto</c> boots one small VM on KVM, once per process.</summary>
internal static class KvmProbe
{
    private static readonly TimeSpan ProbeBoot = TimeSpan.FromSeconds(15);

    /// <summary>Null when a guest booted on KVM; else why not, in a few words.</summary>
    public static async Task<string?> WhyNotAsync(MicroVmExecutor executor, GuestImage image)
    {
        const string device = "/dev/kvm";
        if (!File.Exists(device)) return "there is no /dev/kvm";
        try
        {
            await using var kvm = new FileStream(device, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"/dev/kvm cannot be opened: {e.Message}";
        }

        var root = Path.Combine(executor.WorkRoot, $"kvm-probe-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        Directory.CreateDirectory(Path.Combine(root, "disk"));
        try
        {
            var disk = Path.Combine(root, "disk.img");
            await using (var file = File.Create(disk))
            {
                file.SetLength(16 * 1024 * 1024);
            }
            await Tools.RunAsync("mke2fs", ["-q", "-t", "ext4", "-F", "-d", Path.Combine(root, "disk"), disk], CancellationToken.None);
            var vm = new VmSpec(Acceleration.Kvm, image, disk, null, 128, 1, false,
                Path.Combine(root, "ctl.sock"), Path.Combine(root, "out.sock"), Path.Combine(root, "err.sock"));
            await using var guest = await GuestVm.StartAsync(executor.Options.Qemu, QemuCommand.Arguments(vm, 0), vm,
                ProbeBoot + TimeSpan.FromSeconds(5), ProbeBoot, CancellationToken.None);
            await guest.SendAsync("FINISH", ReadOnlyMemory<byte>.Empty, CancellationToken.None);
            return null;
        }
        catch (ExecutorException e)
        {
            var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var first = lines[0].Split(". Last console lines", StringSplitOptions.None)[0].TrimEnd('.');
            return lines.Length > 1 ? $"{first}: {lines[^1]}" : first;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
