using System.Collections.Concurrent;
using System.Globalization;
using BuildServer.Modules.Hosting;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BuildServer.Modules.Executors.Docker;

/// <summary>
/// Runs a job's steps in one container per attempt, from the job's <c>container.image</c>: the container idles
/// (a sleep loop) while each step is a <c>docker exec</c> of its script. The attempt's folders
/// <c>data/docker-work/&lt;attempt&gt;/{workspace,tmp,steps}</c> are bind-mounted at <see cref="ContainerRoot"/>.
/// Network <c>none</c> unless the agent allows the host's and the job asks; memory, CPU and pids limits from
/// the agent's defaults and the job's options. Containers carry <see cref="AttemptLabel"/> and
/// <see cref="OwnerLabel"/> (this agent's work folder), so the next start removes what a crashed agent left.
/// </summary>
internal sealed class DockerExecutor : IExecutor, IDisposable
{
    public const string AttemptLabel = "buildserver.attempt";
    public const string OwnerLabel = "buildserver.owner";

    /// <summary>On a container created ahead of a job (<see cref="ContainerPool"/>): its folder.</summary>
    public const string WarmLabel = "buildserver.warm";

    /// <summary>The name prefix of the folders of containers created ahead.</summary>
    public const string WarmPrefix = "warm-";

    /// <summary>Where the attempt's folders are inside the container (GitHub's runner uses <c>/__w</c> too).</summary>
    public const string ContainerRoot = "/__w";

    // Docker.DotNet speaks the engine's API version; this machine's engine (20.10) stops at 1.41.
    private static readonly System.Version ApiVersion = new(1, 41);

    // Attempts between the start of their prepare and their dispose: a sweep leaves them alone whatever it is told.
    private readonly ConcurrentDictionary<long, byte> _active = new();

    // Containers of the pool that jobs took (they carry no attempt label), with the attempt running in each.
    private readonly ConcurrentDictionary<string, string> _adopted = new();

    private readonly DataDirectory data;
    private readonly IOptions<DockerExecutorOptions> options;
    private readonly ILogger<DockerExecutor> logger;
    private readonly Lazy<DockerClient> _client;
    private readonly ContainerPool _pool;

    public DockerExecutor(DataDirectory data, IOptions<DockerExecutorOptions> options, ILogger<DockerExecutor> logger)
    {
        (this.data, this.options, this.logger) = (data, options, logger);
        _client = new(() => new DockerClientBuilder().WithEndpoint(options.Value.Endpoint).WithApiVersion(ApiVersion).Build());
        _pool = new ContainerPool(this);
    }

    public string Name => "docker";

    public bool RunsContainers => true;

    internal string WorkRoot => data.Folder("docker-work");

    internal DockerClient Client => _client.Value;

    internal DockerExecutorOptions Options => options.Value;

    internal ILogger Logger => logger;

    /// <summary>Containers created ahead, waiting for a job.</summary>
    internal int WarmReady => _pool.Count;

    public async Task<IExecution> PrepareAsync(ExecutionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var container = request.Container ?? throw new ExecutorException("the Docker executor runs only jobs with a container");
        var limits = ContainerLimits.From(container.Options, options.Value);
        var services = request.Services.Select(s => ServiceSettings.From(s.Key, s.Value, options.Value)).ToList();
        var root = Path.Combine(WorkRoot, request.AttemptId.ToString(CultureInfo.InvariantCulture));
        _active.TryAdd(request.AttemptId, 0);
        try
        {
            var imageId = await EnsureImageAsync(container.Image, cancellationToken);
            foreach (var service in services)
            {
                try
                {
                    await EnsureImageAsync(service.Container.Image, cancellationToken);
                }
                catch (ExecutorException e)
                {
                    throw new ExecutorException($"service '{service.Name}': {e.Message}", e);
                }
            }
            // A job on its own, in a fresh workspace, without the host's network: a container created ahead fits it.
            if (request.Workspace is null && services.Count == 0 && !limits.HostNetwork && options.Value.WarmContainers > 0)
            {
                var key = new WarmKey(container.Image, imageId, limits, WarmKey.EnvOf(container.Env));
                var warm = await _pool.TakeAsync(key, w => _adopted[w.Id] = w.Root, cancellationToken);
                _pool.Refill(key);
                if (warm is not null)
                {
                    return new DockerExecution(this, request, warm.Id, [], warm.Root, Path.Combine(warm.Root, "workspace"));
                }
            }
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true); // a stale folder of a crashed earlier try of this attempt
            }
            var workspace = request.Workspace is { } given ? Path.GetFullPath(given) : Directory.CreateDirectory(Path.Combine(root, "workspace")).FullName;
            CreateFolders(root);
            var host = HostConfig(limits, limits.HostNetwork ? "host" : "none");
            // A service is reached by its name too (GitHub's habit: redis:6379): it listens in this container's network.
            host.ExtraHosts = [.. request.Services.Keys.Select(name => $"{name}:127.0.0.1")];
            var id = await CreateContainerAsync(container.Image, container.Env, host, workspace, root, Labels(request.AttemptId), cancellationToken);
            try
            {
                var serviceIds = services.Count == 0 ? [] : await ServiceContainers.StartAsync(this, request.AttemptId, id, services, cancellationToken);
                return new DockerExecution(this, request, id, serviceIds, root, workspace);
            }
            catch
            {
                await RemoveContainerAsync(id);
                throw;
            }
        }
        catch
        {
            Forget(request.AttemptId, root);
            throw;
        }
    }

    /// <summary>A container for <paramref name="key"/> with empty folders under <c>warm-*</c>, started and idle, for the
    /// pool. It carries the owner label but no attempt's (the sweep asks the pool, and the next start removes it).</summary>
    internal async Task<WarmContainer> CreateWarmAsync(WarmKey key, CancellationToken cancellationToken)
    {
        var root = Path.Combine(WorkRoot, WarmPrefix + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            CreateFolders(root);
            var workspace = Directory.CreateDirectory(Path.Combine(root, "workspace")).FullName;
            var env = key.Env.Length == 0 ? [] : key.Env.Split('\n').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
            var labels = new Dictionary<string, string> { [OwnerLabel] = WorkRoot, [WarmLabel] = root };
            var id = await CreateContainerAsync(key.Image, env, HostConfig(key.Limits, "none"), workspace, root, labels, cancellationToken);
            return new WarmContainer(id, root, key);
        }
        catch
        {
            DeleteFolder(root);
            throw;
        }
    }

    /// <summary>Removes a container of the pool that no job took, and its folder.</summary>
    internal async Task RemoveWarmAsync(WarmContainer warm)
    {
        try
        {
            await RemoveContainerAsync(warm.Id);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException)
        {
            logger.LogWarning(e, "Could not remove the waiting container {Container}; the agent's sweep or next start removes it", warm.Id);
        }
        DeleteFolder(warm.Root);
    }

    private static void CreateFolders(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "tmp"));
        Directory.CreateDirectory(Path.Combine(root, "steps"));
    }

    private async Task<string> CreateContainerAsync(string image, IReadOnlyDictionary<string, string> env, HostConfig host,
        string workspace, string root, Dictionary<string, string> labels, CancellationToken cancellationToken)
    {
        host.Binds =
        [
            $"{workspace}:{DockerExecution.WorkspacePath}",
            $"{Path.Combine(root, "tmp")}:{DockerExecution.TempPath}",
            $"{Path.Combine(root, "steps")}:{DockerExecution.StepsPath}:ro",
        ];
        var parameters = new CreateContainerParameters
        {
            Image = image,
            // Whatever the image's entrypoint, the container only idles: steps come in through exec.
            Entrypoint = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 86400 & wait $!; done"],
            Cmd = [],
            Env = [.. env.Select(kv => $"{kv.Key}={kv.Value}")],
            WorkingDir = DockerExecution.WorkspacePath,
            Labels = labels,
            HostConfig = host,
        };
        // Not cut short by a cancel: a create cancelled after the engine made the container would leave it untracked.
        var created = await Client.Containers.CreateContainerAsync(parameters, CancellationToken.None);
        try
        {
            await Client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch
        {
            await RemoveContainerAsync(created.ID);
            throw;
        }
        return created.ID;
    }

    /// <summary>What every container of an attempt carries, so leftovers are found (several agents may share an engine).</summary>
    internal Dictionary<string, string> Labels(long attemptId) => new()
    {
        [AttemptLabel] = attemptId.ToString(CultureInfo.InvariantCulture),
        [OwnerLabel] = WorkRoot,
    };

    internal static HostConfig HostConfig(ContainerLimits limits, string networkMode) => new()
    {
        NetworkMode = networkMode,
        Memory = limits.Memory ?? 0,
        // No swap beyond the memory limit: an allocation past it is OOM-killed, not slowed to a crawl.
        MemorySwap = limits.Memory ?? 0,
        NanoCPUs = limits.Cpus is { } cpus ? (long)(cpus * 1e9) : 0,
        PidsLimit = limits.Pids,
    };

    /// <summary>Local images work offline; a pull is tried only for a missing one. Returns the image's id.</summary>
    private async Task<string> EnsureImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            return (await Client.Images.InspectImageAsync(image, cancellationToken)).ID;
        }
        catch (DockerImageNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
        logger.LogInformation("Image {Image} is not on this engine; pulling it", image);
        var (name, tag) = SplitTag(image);
        var errors = new List<string>();
        try
        {
            await Client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = name, Tag = tag }, null,
                new Progress<JSONMessage>(m =>
                {
                    if (m.Error?.Message is { Length: > 0 } error) lock (errors) errors.Add(error);
                }), cancellationToken);
            var pulled = await Client.Images.InspectImageAsync(image, cancellationToken);
            if (errors.Count == 0) return pulled.ID;
        }
        catch (DockerApiException e)
        {
            throw new ExecutorException($"image '{image}' not found: it is not on this agent's engine and pulling it failed ({FirstLine(e.ResponseBody ?? e.Message)})", e);
        }
        catch (HttpRequestException e)
        {
            throw new ExecutorException($"image '{image}' not found: it is not on this agent's engine and pulling it failed ({e.Message})", e);
        }
        throw new ExecutorException($"image '{image}' not found: it is not on this agent's engine and pulling it failed ({FirstLine(errors[0])})");
    }

    private static (string Name, string Tag) SplitTag(string image)
    {
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    /// <summary>Removes the containers a crashed earlier start of this agent left (only ours: several agents may
    /// share an engine), and their work folders.</summary>
    public async Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        foreach (var id in await ListOursAsync(attemptId: null, cancellationToken))
        {
            logger.LogWarning("Removing container {Container}, left by an earlier start", id);
            await RemoveContainerAsync(id);
        }
        if (!options.Value.KeepWorkspaces && Directory.Exists(WorkRoot))
        {
            foreach (var dir in Directory.EnumerateDirectories(WorkRoot)
                         .Where(d => long.TryParse(Path.GetFileName(d), out _) || Path.GetFileName(d).StartsWith(WarmPrefix, StringComparison.Ordinal)))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>Removes this agent's containers (jobs' and services') and work folders of attempts neither in
    /// <paramref name="runningAttempts"/> nor being prepared or run by this executor, and older than
    /// <see cref="DockerExecutorOptions.SweepMinAge"/>: what a removal that failed at dispose, or a create cut short
    /// by a cancel, left behind. Safe while slots start jobs: an attempt counts as active from the start of its
    /// prepare, and a container younger than the minimum age is never taken.</summary>
    public async Task SweepAsync(IReadOnlySet<long> runningAttempts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runningAttempts);
        // The machine's clock, not a TimeProvider: it is compared with the engine's creation times and folders' dates.
        var bornBefore = DateTime.UtcNow - options.Value.SweepMinAge;
        bool Busy(long attempt) => runningAttempts.Contains(attempt) || _active.ContainsKey(attempt);
        var found = await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{OwnerLabel}={WorkRoot}"] = true } },
        }, cancellationToken);
        foreach (var container in found)
        {
            var attempt = container.Labels.TryGetValue(AttemptLabel, out var text) && long.TryParse(text, CultureInfo.InvariantCulture, out var a) ? a : (long?)null;
            if (attempt is { } id && Busy(id) || container.Created.ToUniversalTime() > bornBefore) continue;
            if (_pool.Owns(container.ID) || _adopted.ContainsKey(container.ID)) continue;
            logger.LogWarning("Removing container {Container} of attempt {Attempt}, which this agent no longer runs", container.ID, text ?? "(none: created ahead)");
            await RemoveContainerAsync(container.ID);
        }
        if (options.Value.KeepWorkspaces || !Directory.Exists(WorkRoot)) return;
        foreach (var dir in Directory.EnumerateDirectories(WorkRoot))
        {
            if (Directory.GetCreationTimeUtc(dir) > bornBefore) continue;
            if (long.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var attempt))
            {
                if (!Busy(attempt)) Forget(attempt, dir);
            }
            else if (Path.GetFileName(dir).StartsWith(WarmPrefix, StringComparison.Ordinal) && !_pool.OwnsFolder(dir)
                     && !_adopted.Values.Contains(dir))
            {
                DeleteFolder(dir);
            }
        }
    }

    /// <summary>Ids of this agent's containers (of one attempt, when given), running or not.</summary>
    internal async Task<IReadOnlyList<string>> ListOursAsync(long? attemptId, CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, bool> { [$"{OwnerLabel}={WorkRoot}"] = true };
        if (attemptId is { } attempt) labels[$"{AttemptLabel}={attempt.ToString(CultureInfo.InvariantCulture)}"] = true;
        var found = await Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels },
        }, cancellationToken);
        return [.. found.Select(c => c.ID)];
    }

    internal async Task RemoveContainerAsync(string id)
    {
        try
        {
            await Client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
        catch (DockerContainerNotFoundException)
        {
            // gone already
        }
        catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // removal already in progress
        }
    }

    internal void Forget(long attemptId, string root)
    {
        _active.TryRemove(attemptId, out _);
        DeleteFolder(root);
    }

    /// <summary>Called by an execution on a container of the pool once it is removed.</summary>
    internal void ForgetAdopted(string containerId) => _adopted.TryRemove(containerId, out _);

    private void DeleteFolder(string root)
    {
        if (options.Value.KeepWorkspaces || !Directory.Exists(root)) return;
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(e, "Could not remove the work folder {Folder}", root);
        }
    }

    public void Dispose()
    {
        _pool.Dispose();
        if (_client.IsValueCreated) _client.Value.Dispose();
    }
}
