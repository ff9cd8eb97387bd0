using System.Collections.Concurrent;
using BuildServer.Modules.Executors;
using BuildServer.Modules.Executors.Docker;
using BuildServer.Modules.Hosting;
using BuildServer.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace BuildServer.Tests.Executors;

/// <summary>The real Docker executor on the run's private engine, in a temporary data folder of its own (so its
/// owner label, and the containers counted, are this harness's only).</summary>
internal sealed class DockerHarness : IAsyncDisposable
{
    private static long _attempt;

    private DockerHarness(DockerEngine engine, DockerExecutorOptions options)
    {
        DataRoot = Path.Combine(Path.GetTempPath(), "buildserver-docker-exec-" + Guid.NewGuid().ToString("N"));
        options.Endpoint = engine.Endpoint;
        Executor = new DockerExecutor(new DataDirectory(DataRoot), Options.Create(options), NullLogger<DockerExecutor>.Instance);
    }

    public string DataRoot { get; }

    public DockerExecutor Executor { get; }

    public static async Task<DockerHarness> StartAsync(DockerExecutorOptions? options = null) =>
        new(await DockerEngine.SharedAsync(), options ?? new DockerExecutorOptions());

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
