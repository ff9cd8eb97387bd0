using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>What a container created ahead must match to be given to a job: the same image (by reference and by the id
/// the reference points at now, so a re-tagged image is never run stale), limits and container env.</summary>
internal sealed record WarmKey(string Image, string ImageId, ContainerLimits Limits, string Env)
{
    public static string EnvOf(IReadOnlyDictionary<string, string> env) =>
        string.Join('\n', env.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"));
}

/// <summary>A started, idle container with empty folders, waiting for a job.</summary>
internal sealed record WarmContainer(string Id, string Root, WarmKey Key);

/// <summary>
/// The Docker executor's containers created and started ahead of the next job
/// (<see cref="DockerExecutorOptions.WarmContainers"/>), for the images jobs used last. A job takes a waiting container
/// of its image and settings (or waits for the one being created for them) and a refill creates the next in the
/// background, one at a time; when the pool is full, the oldest container of another image makes room. Thread-safe:
/// slots take and refill concurrently; the sweep asks <see cref="Owns"/>.
/// </summary>
internal sealed class ContainerPool(DockerExecutor executor) : IDisposable
{
    private readonly object _gate = new();
    private readonly List<WarmContainer> _ready = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task<WarmContainer>? _creating;
    private WarmKey? _creatingKey;
    private bool _disposed;

    private int Capacity => executor.Options.WarmContainers;

    public int Count
    {
        get
        {
            lock (_gate) return _ready.Count;
        }
    }

    /// <summary>A waiting container for <paramref name="key"/>; or, when none waits, the one being created for it;
    /// null when there is neither (or that creation failed). A waiting container of the same image whose image id is
    /// not the current one is removed. <paramref name="taken"/> is called with the container before it leaves the pool
    /// (under the pool's lock), so that the sweep never sees it belong to no one.</summary>
    public async Task<WarmContainer?> TakeAsync(WarmKey key, Action<WarmContainer> taken, CancellationToken cancellationToken)
    {
        Task<WarmContainer>? creating;
        lock (_gate)
        {
            foreach (var stale in _ready.Where(w => w.Key.Image == key.Image && w.Key.ImageId != key.ImageId).ToList())
            {
                _ready.Remove(stale);
                Drop(stale);
            }
            var index = _ready.FindIndex(w => w.Key == key);
            if (index >= 0)
            {
                return TakeAt(index, taken);
            }
            creating = _creatingKey == key ? _creating : null;
        }
        if (creating is null) return null;
        try
        {
            await creating.WaitAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return null; // the creation failed (the refill logs why): the job creates its own
        }
        lock (_gate)
        {
            var index = _ready.FindIndex(w => w.Key == key);
            return index < 0 ? null : TakeAt(index, taken); // < 0: another slot took it
        }
    }

    private WarmContainer TakeAt(int index, Action<WarmContainer> taken)
    {
        var found = _ready[index];
        taken(found);
        _ready.RemoveAt(index);
        return found;
    }

    /// <summary>Creates a container for <paramref name="key"/> in the background unless one waits or is being created
    /// (one creation at a time; a failure is logged and the next job tries again).</summary>
    public void Refill(WarmKey key)
    {
        lock (_gate)
        {
            if (_disposed || Capacity <= 0 || _creating is { IsCompleted: false } || _ready.Any(w => w.Key == key)) return;
            while (_ready.Count >= Capacity)
            {
                Drop(_ready[0]);
                _ready.RemoveAt(0);
            }
            _creatingKey = key;
            _creating = CreateIntoPoolAsync(key);
        }
    }

    private async Task<WarmContainer> CreateIntoPoolAsync(WarmKey key)
    {
        await Task.Yield(); // the slot that asked goes on with its job
        try
        {
            var warm = await executor.CreateWarmAsync(key, _stopping.Token);
            lock (_gate)
            {
                if (!_disposed)
                {
                    _ready.Add(warm);
                    return warm;
                }
            }
            await executor.RemoveWarmAsync(warm); // disposed meanwhile: Dispose waits for this
            throw new OperationCanceledException("the executor was disposed");
        }
        catch (Exception e)
        {
            if (!_stopping.IsCancellationRequested) executor.Logger.LogWarning(e, "Could not create a container ahead of the next job: {Reason}", e.Message);
            throw;
        }
    }

    /// <summary>Whether the container waits here (the sweep leaves it alone).</summary>
    public bool Owns(string containerId)
    {
        lock (_gate) return _ready.Any(w => w.Id == containerId);
    }

    /// <summary>Whether the folder belongs to a container waiting here or being created.</summary>
    public bool OwnsFolder(string root)
    {
        lock (_gate) return _ready.Any(w => w.Root == root) || _creating is { IsCompleted: false };
    }

    private void Drop(WarmContainer warm) => _ = executor.RemoveWarmAsync(warm);

    /// <summary>Removes the waiting containers and the one being created, if any, before returning.</summary>
    public void Dispose()
    {
        Task? creating;
        List<WarmContainer> ready;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            creating = _creating;
            ready = [.. _ready];
            _ready.Clear();
        }
        _stopping.Cancel();
        try
        {
            creating?.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // cancelled or failed: nothing of it reached the pool
        }
        Task.WaitAll([.. ready.Select(executor.RemoveWarmAsync)], TimeSpan.FromSeconds(10));
        _stopping.Dispose();
    }
}
