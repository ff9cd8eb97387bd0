using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>The guest's kernel and initramfs, made from this machine's Debian packages at first use and cached in
/// the data folder (<c>data/microvm/&lt;kernel version&gt;-&lt;hash&gt;/</c>); nothing is ever downloaded.
/// The kernel is <c>/boot/vmlinuz-*</c> (<c>linux-image-cloud-amd64</c>), unpacked to its ELF when <c>lz4</c> is
/// there (it boots about 0.25 s faster); the initramfs holds busybox (<c>busybox-static</c>), the virtio modules of
/// that kernel and <c>guest-init.sh</c> as <c>/init</c>.</summary>
internal sealed record GuestImage(string Kernel, string Initramfs, string KernelVersion)
{
    /// <summary>Loaded in this order (each after what it needs); a module the kernel has built in is skipped.</summary>
    internal static readonly string[] Modules =
        ["virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "virtio_console", "failover", "net_failover", "virtio_net", "overlay"];

    private const string Busybox = "/bin/busybox";

    private static ReadOnlySpan<byte> Lz4Magic => [0x02, 0x21, 0x4c, 0x18]; // the LZ4 legacy frame's magic

    public static async Task<GuestImage> EnsureAsync(string cacheRoot, string? kernel, CancellationToken cancellationToken)
    {
        var vmlinuz = kernel ?? FindKernel()
            ?? throw new ExecutorException("no guest kernel: /boot has no vmlinuz-* (install linux-image-cloud-amd64, or set Executors:MicroVm:Kernel)");
        if (!File.Exists(vmlinuz)) throw new ExecutorException($"the guest kernel '{vmlinuz}' does not exist (Executors:MicroVm:Kernel)");
        if (!File.Exists(Busybox)) throw new ExecutorException($"{Busybox} is missing: install busybox-static, the guest's tools");
        var version = Path.GetFileName(vmlinuz).Replace("vmlinuz-", "", StringComparison.Ordinal);
        var modules = Path.Combine("/lib/modules", version);
        if (!File.Exists(Path.Combine(modules, "modules.dep")))
        {
            throw new ExecutorException($"the modules of kernel {version} are missing ({modules}/modules.dep): install its linux-image package");
        }

        var init = InitScript();
        var folder = Path.Combine(cacheRoot, $"{version}-{Key(vmlinuz, init)}");
        var image = new GuestImage(Path.Combine(folder, "kernel"), Path.Combine(folder, "initramfs.cpio"), version);
        if (File.Exists(image.Kernel) && File.Exists(image.Initramfs)) return image;

        // Built beside, then renamed into place: a crash or a second builder never leaves a half-written image.
        var building = $"{folder}.{Environment.ProcessId}.{Guid.NewGuid():N}";
        Directory.CreateDirectory(building);
        try
        {
            var unpacked = await UnpackKernelAsync(vmlinuz, cancellationToken);
            if (unpacked is null) File.Copy(vmlinuz, Path.Combine(building, "kernel"));
            else await File.WriteAllBytesAsync(Path.Combine(building, "kernel"), unpacked, cancellationToken);
            await using (var cpio = File.Create(Path.Combine(building, "initramfs.cpio")))
            {
                await WriteInitramfsAsync(cpio, modules, init, cancellationToken);
            }
            try
            {
                Directory.Move(building, folder);
            }
            catch (IOException) when (File.Exists(image.Kernel) && File.Exists(image.Initramfs))
            {
                Directory.Delete(building, recursive: true); // another builder won the race
            }
        }
        catch
        {
            if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
            throw;
        }
        return image;
    }

    internal static string InitScript()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("BuildServer.Modules.Executors.MicroVm.guest-init.sh")
                           ?? throw new InvalidOperationException("guest-init.sh is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The cloud kernel when there is one (smaller, virtio-only), else any, the newest version first.</summary>
    private static string? FindKernel()
    {
        if (!Directory.Exists("/boot")) return null;
        var kernels = Directory.GetFiles("/boot", "vmlinuz-*").Order(StringComparer.Ordinal).ToList();
        return kernels.LastOrDefault(k => k.EndsWith("-cloud-amd64", StringComparison.Ordinal)) ?? kernels.LastOrDefault();
    }

    private static string Key(string vmlinuz, string init)
    {
        var kernel = new FileInfo(vmlinuz);
        var busybox = new FileInfo(Busybox);
        var identity = $"{kernel.Length}:{kernel.LastWriteTimeUtc.Ticks}:{busybox.Length}:{busybox.LastWriteTimeUtc.Ticks}:{string.Join(',', Modules)}\n{init}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..16];
    }

    /// <summary>The kernel's ELF from an LZ4-compressed bzImage (Debian's), through <c>lz4</c>; null when the image is
    /// not LZ4 or <c>lz4</c> is missing (QEMU boots the bzImage itself then).</summary>
    private static async Task<byte[]?> UnpackKernelAsync(string vmlinuz, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(vmlinuz, cancellationToken);
        var start = bytes.AsSpan().IndexOf(Lz4Magic);
        if (start < 0) return null;
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo("lz4", ["-dc"])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
        using (process)
        {
            using var elf = new MemoryStream();
            var reading = process.StandardOutput.BaseStream.CopyToAsync(elf, cancellationToken);
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            // lz4 complains about the bytes after the stream and exits 1: harmless, the ELF is whole.
            try
            {
                await process.StandardInput.BaseStream.WriteAsync(bytes.AsMemory(start), cancellationToken);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // lz4 stopped reading after the end of its stream
            }
            await reading;
            await errors;
            await process.WaitForExitAsync(cancellationToken);
            var result = elf.ToArray();
            return result.Length > 1024 * 1024 && result.AsSpan().StartsWith("\u007fELF"u8) ? result : null;
        }
    }

    private static async Task WriteInitramfsAsync(Stream output, string modules, string init, CancellationToken cancellationToken)
    {
        var cpio = new CpioWriter(output);
        foreach (var dir in new[] { "bin", "sbin", "dev", "proc", "sys", "tmp", "root", "etc", "mnt", "lib", "lib/modules" })
        {
            cpio.Directory(dir);
        }
        cpio.File("bin/busybox", await File.ReadAllBytesAsync(Busybox, cancellationToken), executable: true);
        foreach (var applet in await AppletsAsync(cancellationToken))
        {
            cpio.Symlink($"bin/{applet}", "busybox");
        }
        var paths = ModulePaths(modules);
        foreach (var module in Modules)
        {
            if (paths.TryGetValue(module, out var path))
            {
                cpio.File($"lib/modules/{module}.ko", await File.ReadAllBytesAsync(Path.Combine(modules, path), cancellationToken), executable: false);
            }
        }
        cpio.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"u8.ToArray(), executable: false);
        cpio.File("etc/group", "root:x:0:\n"u8.ToArray(), executable: false);
        cpio.File("init", Encoding.UTF8.GetBytes(init), executable: true);
        cpio.Trailer();
        await output.FlushAsync(cancellationToken);
    }

    private static async Task<List<string>> AppletsAsync(CancellationToken cancellationToken)
    {
        using var process = Process.Start(new ProcessStartInfo(Busybox, ["--list"]) { RedirectStandardOutput = true })!;
        var list = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return [.. list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(a => a != "busybox" && !a.Contains('/', StringComparison.Ordinal))];
    }

    /// <summary>Module name → its file under the modules folder, from <c>modules.dep</c>; uncompressed modules only
    /// (busybox's insmod loads no compressed ones).</summary>
    private static Dictionary<string, string> ModulePaths(string modules)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(modules, "modules.dep")))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) continue;
            var path = line[..colon];
            if (!path.EndsWith(".ko", StringComparison.Ordinal)) continue;
            var name = Path.GetFileNameWithoutExtension(path).Replace('-', '_');
            paths.TryAdd(name, path);
        }
        return paths;
    }

    /// <summary>The "newc" cpio format the kernel unpacks an initramfs from.</summary>
    private sealed class CpioWriter(Stream output)
    {
        private int _inode = 1;

        public void Directory(string name) => Entry(name, 0x41ed /* dir 0755 */, []);

        public void File(string name, byte[] data, bool executable) => Entry(name, executable ? 0x81ed : 0x81a4, data);

        public void Symlink(string name, string target) => Entry(name, 0xa1ff /* link 0777 */, Encoding.UTF8.GetBytes(target));

        public void Trailer() => Entry("TRAILER!!!", 0, [], inode: 0);

        private void Entry(string name, int mode, byte[] data, int? inode = null)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var header = new StringBuilder("070701");
            foreach (var field in new long[] { inode ?? _inode++, mode, 0, 0, mode == 0x41ed ? 2 : 1, 0, data.Length, 0, 0, 0, 0, nameBytes.Length + 1, 0 })
            {
                header.Append(field.ToString("x8", CultureInfo.InvariantCulture));
            }
            var head = Encoding.ASCII.GetBytes(header.ToString());
            output.Write(head);
            output.Write(nameBytes);
            output.WriteByte(0);
            Pad(head.Length + nameBytes.Length + 1);
            output.Write(data);
            Pad(data.Length);
        }

        private void Pad(int length)
        {
            for (var i = length; i % 4 != 0; i++) output.WriteByte(0);
        }
    }
}
