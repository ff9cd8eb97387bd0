using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>A booted VM with an empty job disk, and where its files are.</summary>
internal sealed record WarmVm(GuestVm Guest, string Root, string Stage, DateTime BootedAt);

/// <summary>
/// The microVM executor's booted VMs waiting for jobs (<see cref="MicroVmExecutorOptions.WarmVms"/>). A job takes one
/// and a refill boots the next in the background, one at a time. A VM that died while waiting, or that has waited for
/// half its lifetime, is dropped instead of given out. Thread-safe: slots take and refill concurrently.
/// </summary>
internal sealed class WarmPool(MicroVmExecutor executor) : IDisposable
{
    private readonly ConcurrentQueue<WarmVm> _ready = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _refilling;
    private volatile bool _disposed;
    private Task _refill = Task.CompletedTask;

    public int Count => _ready.Count;

    /// <summary>A ready VM, or null when none is.</summary>
    public WarmVm? Take()
    {
        while (_ready.TryDequeue(out var warm))
        {
            if (!warm.Guest.HasExited && DateTime.UtcNow - warm.BootedAt < executor.Options.MaxLifetime / 2) return warm;
            Drop(warm);
        }
        return null;
    }

    /// <summary>Boots VMs in the background until <see cref="MicroVmExecutorOptions.WarmVms"/> are ready (no-op while a
    /// refill runs). A failed boot is logged and ends the refill; the next job starts another.</summary>
    public void Refill(Func<CancellationToken, Task<WarmVm>> boot)
    {
        if (_disposed || Interlocked.CompareExchange(ref _refilling, 1, 0) != 0) return;
        _refill = Task.Run(async () =>
        {
            try
            {
                while (!_disposed && _ready.Count < executor.Options.WarmVms)
                {
                    var warm = await boot(_stopping.Token);
                    _ready.Enqueue(warm);
                    if (_disposed) Drain();
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // disposed during a boot: the VM was killed
            }
            catch (Exception e)
            {
                // Nobody awaits this task: whatever went wrong is told here, and the next job boots its own VM.
                executor.Logger.LogWarning(e, "Could not boot a VM ahead of the next job: {Reason}", e.Message);
            }
            finally
            {
                Volatile.Write(ref _refilling, 0);
            }
        });
    }

    private void Drop(WarmVm warm)
    {
        warm.Guest.DisposeAsync().AsTask().GetAwaiter().GetResult();
        executor.Forget(warm.Root);
    }

    private void Drain()
    {
        while (_ready.TryDequeue(out var warm)) Drop(warm);
    }

    /// <summary>Kills the VMs waiting and the one booting, if any, before returning.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stopping.Cancel();
        _refill.Wait(TimeSpan.FromSeconds(10));
        Drain();
        _stopping.Dispose();
    }
}
