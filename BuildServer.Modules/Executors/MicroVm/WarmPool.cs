using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>A booted VM with an empty job disk, and where its files are.</summary>
internal sealed record WarmVm(GuestVm Guest, string Root, string Stage, DateTime BootedAt);

/// <summary>
/// The microVM executor's booted VMs waiting for jobs (<see cref="MicroVmExecutorOptions.WarmVms"/>). A job takes one
/// (or waits for the one being booted) and a refill boots the next in the background, one at a time. A VM that died
/// while waiting, or that has waited for half its lifetime, is dropped instead of given out. Thread-safe: slots take
/// and refill concurrently.
/// </summary>
internal sealed class WarmPool(MicroVmExecutor executor) : IDisposable
{
    private readonly ConcurrentQueue<WarmVm> _ready = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _refilling;
    private volatile bool _disposed;
    private Task _refill = Task.CompletedTask;
    private Task? _booting;

    public int Count => _ready.Count;

    /// <summary>A ready VM; or, when none is, the one the refill is booting (it is closer to ready than a new boot
    /// would be); null when there is neither, or that boot failed.</summary>
    public async Task<WarmVm?> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            while (_ready.TryDequeue(out var warm))
            {
                if (!warm.Guest.HasExited && DateTime.UtcNow - warm.BootedAt < executor.Options.MaxLifetime / 2) return warm;
                Drop(warm);
            }
            var booting = Volatile.Read(ref _booting);
            if (booting is null || booting.IsCompleted) return null;
            try
            {
                await booting.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                return null; // the boot failed (the refill logs why): the job boots its own
            }
        }
    }

    /// <summary>Boots VMs in the background until <see cref="MicroVmExecutorOptions.WarmVms"/> are ready (no-op while a
    /// refill runs). A failed boot is logged and ends the refill; the next job starts another.</summary>
    public void Refill(Func<CancellationToken, Task<WarmVm>> boot)
    {
        if (_disposed || Interlocked.CompareExchange(ref _refilling, 1, 0) != 0) return;
        // Started on the caller's thread up to the boot's first wait, so that the boot is known (to a job taking right
        // after this one) before Refill returns.
        _refill = RefillAsync();

        async Task RefillAsync()
        {
            try
            {
                while (!_disposed && _ready.Count < executor.Options.WarmVms)
                {
                    var booting = BootIntoPoolAsync(boot);
                    Volatile.Write(ref _booting, booting);
                    await booting;
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // disposed during a boot: the VM was killed
            }
            catch (Exception e)
            {
                // Nobody else awaits this loop: whatever went wrong is told here, and the next job boots its own VM.
                executor.Logger.LogWarning(e, "Could not boot a VM ahead of the next job: {Reason}", e.Message);
            }
            finally
            {
                Volatile.Write(ref _refilling, 0);
            }
        }
    }

    /// <summary>One boot of the refill; done once its VM is in the pool, where a job waiting for it takes it.</summary>
    private async Task BootIntoPoolAsync(Func<CancellationToken, Task<WarmVm>> boot)
    {
        var warm = await boot(_stopping.Token);
        _ready.Enqueue(warm);
        if (_disposed) Drain();
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
