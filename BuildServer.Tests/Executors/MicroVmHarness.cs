using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.MicroVm;
using BuildServer.Modules.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Executors;

/// <summary>The real microVM executor (QEMU under TCG: this machine's KVM boots no stock kernel, MICROVM.md) in a
/// temporary data folder of its own; the guest image is built once into a cache shared by the test runs.</summary>
internal sealed class MicroVmHarness : IDisposable
{
    private static long _attempt;

    /// <summary>One cache for every test run on the machine: an image's folder is named by the hash of what it is made
    /// of, and is built beside and renamed into place, so runs share it safely and a changed init gets a new one.</summary>
    public static readonly string ImageCache = Path.Combine(Path.GetTempPath(), "buildserver-microvm-images");

    public MicroVmHarness(MicroVmExecutorOptions? options = null, string? dataRoot = null)
    {
        DataRoot = dataRoot ?? Path.Combine(Path.GetTempPath(), "bs-mvm-" + Guid.NewGuid().ToString("N")[..12]);
        Options = options ?? Tcg();
        Options.ImageCache ??= ImageCache;
        Executor = new MicroVmExecutor(new DataDirectory(DataRoot), Microsoft.Extensions.Options.Options.Create(Options), NullLogger<MicroVmExecutor>.Instance);
    }

    public string DataRoot { get; }

    public MicroVmExecutorOptions Options { get; }

    public MicroVmExecutor Executor { get; }

    /// <summary>TCG, 256 MiB, one vCPU, no VM booted ahead (so the VMs counted are the tests' own): small and quick.</summary>
    public static MicroVmExecutorOptions Tcg() => new() { Acceleration = "tcg", MemoryMb = 256, Disk = "256m", WarmVms = 0 };

    public static long NextAttempt() => Interlocked.Increment(ref _attempt) + 5000;

    public static ExecutionRequest Request(long attempt, Dictionary<string, string>? env = null, string? workspace = null) =>
        new(attempt, env ?? new Dictionary<string, string>()) { MicroVm = true, Workspace = workspace };

    public static ExecutionStep Step(int index, string script, Dictionary<string, string>? env = null) =>
        new(index, $"step {index}", script, env ?? new Dictionary<string, string>());

    /// <summary>QEMU processes whose files are in this harness's data folder.</summary>
    public int CountVms() => Modules.Executors.MicroVm.Tools.ProcessesWhoseCommandLineHas(DataRoot + "/", program: "qemu-system-x86_64").Count;

    /// <summary>Attempt folders left in the work folder.</summary>
    public int CountWorkFolders() =>
        Directory.Exists(Executor.WorkRoot) ? Directory.GetDirectories(Executor.WorkRoot).Length : 0;

    public void Dispose()
    {
        Executor.RemoveLeftoversAsync(CancellationToken.None).GetAwaiter().GetResult();
        Executor.Dispose();
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }
}
