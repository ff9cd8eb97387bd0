using System.Collections.Concurrent;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;
using BuildServer.Modules.Hosting;
using BuildServer.Tests.Infrastructure;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Executors;

/// <summary>The real Docker executor on the run's private engine, in a temporary data folder of its own (so its
/// owner label, and the containers counted, are this harness's only).</summary>
internal sealed class DockerHarness : IAsyncDisposable
{
    /// <summary>Busybox whose command is <c>eval "$SERVICE_SCRIPT"</c>: a service that does what its env says.</summary>
    public const string ServiceImage = "local/busybox-service:1";

    private static readonly SemaphoreSlim ServiceImageGate = new(1, 1);
    private static long _attempt;

    private DockerHarness(DockerEngine engine, DockerExecutorOptions options)
    {
        DataRoot = Path.Combine(Path.GetTempPath(), "buildserver-docker-exec-" + Guid.NewGuid().ToString("N"));
        options.Endpoint = engine.Endpoint;
        Executor = new DockerExecutor(new DataDirectory(DataRoot), Options.Create(options), NullLogger<DockerExecutor>.Instance);
    }

    public string DataRoot { get; }

    public DockerExecutor Executor { get; }

    /// <param name="warm">Containers created ahead (<see cref="DockerExecutorOptions.WarmContainers"/>): none unless a
    /// test is about them, so that every other test counts only its attempt's containers.</param>
    public static async Task<DockerHarness> StartAsync(DockerExecutorOptions? options = null, int warm = 0)
    {
        var engine = await DockerEngine.SharedAsync();
        await EnsureServiceImageAsync(engine.Endpoint);
        options ??= new DockerExecutorOptions();
        options.WarmContainers = warm;
        return new DockerHarness(engine, options);
    }

    /// <summary>Commits <see cref="ServiceImage"/> from the busybox image once per engine (an image with a command of
    /// its own, as services have; the imported busybox has none).</summary>
    public static async Task EnsureServiceImageAsync(Uri endpoint)
    {
        using var client = Client(endpoint);
        await ServiceImageGate.WaitAsync();
        try
        {
            try
            {
                await client.Images.InspectImageAsync(ServiceImage);
                return;
            }
            catch (DockerImageNotFoundException)
            {
            }
            var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = DockerEngine.BusyboxImage,
                Cmd = ["sh", "-c", "eval \"$SERVICE_SCRIPT\""],
                HostConfig = new HostConfig { NetworkMode = "none" },
            });
            try
            {
                await client.Images.CommitContainerChangesAsync(new CommitContainerChangesParameters
                {
                    ContainerID = created.ID,
                    RepositoryName = ServiceImage.Split(':')[0],
                    Tag = ServiceImage.Split(':')[1],
                });
            }
            finally
            {
                await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
            }
        }
        finally
        {
            ServiceImageGate.Release();
        }
    }

    public static DockerClient Client(Uri endpoint) => new DockerClientBuilder().WithEndpoint(endpoint).WithApiVersion(new System.Version(1, 41)).Build();

    /// <summary>A service of <see cref="ServiceImage"/> running <paramref name="script"/>.</summary>
    public static ExecutionContainer Service(string script, string? options = null, params string[] ports) =>
        new(ServiceImage, new Dictionary<string, string> { ["SERVICE_SCRIPT"] = script }, options) { Ports = ports };

    /// <summary>Serves <c>pong</c> over HTTP on port 8080.</summary>
    public const string WebScript = "mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www";

    /// <summary>A health check that passes once <see cref="WebScript"/> answers.</summary>
    public const string WebHealth = "--health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 1s --health-retries 30";

    public static long NextAttempt() => Interlocked.Increment(ref _attempt) + 1000;

    public static ExecutionRequest Request(long attempt, string? options = null, Dictionary<string, string>? env = null) =>
        new(attempt, env ?? new Dictionary<string, string>())
        {
            Container = new ExecutionContainer(DockerEngine.BusyboxImage, new Dictionary<string, string>(), options),
        };

    public static ExecutionStep Step(int index, string script, Dictionary<string, string>? env = null) =>
        new(index, $"step {index}", script, env ?? new Dictionary<string, string>());

    public async Task<int> CountContainersAsync(long? attempt = null) => (await Executor.ListOursAsync(attempt, CancellationToken.None)).Count;

    public async ValueTask DisposeAsync()
    {
        await Executor.RemoveLeftoversAsync(CancellationToken.None);
        Executor.Dispose();
        Directory.Delete(DataRoot, recursive: true);
    }
}

/// <summary>Keeps every line with its stream, in order.</summary>
internal sealed class RecordingSink : IOutputSink
{
    private readonly ConcurrentQueue<(string Text, OutputChannel Stream)> _lines = new();

    public IReadOnlyList<(string Text, OutputChannel Stream)> Lines => [.. _lines];

    public IReadOnlyList<string> Texts => [.. _lines.Select(l => l.Text)];

    public void Line(ReadOnlySpan<char> text, OutputChannel stream) => _lines.Enqueue((text.ToString(), stream));
}

/// <summary>Completes <see cref="Started"/> when a given line arrives (a step is known to run).</summary>
internal sealed class StartedSink(string marker) : IOutputSink
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Started => _started.Task;

    public void Line(ReadOnlySpan<char> text, OutputChannel stream)
    {
        if (text.SequenceEqual(marker)) _started.TrySetResult();
    }
}
