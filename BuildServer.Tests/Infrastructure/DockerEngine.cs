using System.Diagnostics;

namespace BuildServer.Tests.Infrastructure;

/// <summary>
/// A private Docker engine for the test run (see <c>../shared/DOCKER.md</c>): <c>dockerd</c> on a temporary folder
/// with its own data root, exec root, socket and pid file, no bridge and no iptables, started on first use and
/// stopped by its pid when the run ends. It holds <see cref="BusyboxImage"/>, imported from <c>/bin/busybox</c>
/// (no registry is reachable). A missing <c>dockerd</c> or busybox fails the tests; they never skip.
/// </summary>
public sealed class DockerEngine : IAsyncDisposable
{
    public const string BusyboxImage = "local/busybox:1";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static DockerEngine? _shared;

    private readonly string _folder;
    private readonly Process _daemon;

    private DockerEngine(string folder, Process daemon)
    {
        (_folder, _daemon) = (folder, daemon);
        Endpoint = new Uri("unix://" + Path.Combine(folder, "docker.sock"));
    }

    /// <summary>The engine's socket, <c>unix:///tmp/.../docker.sock</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>The run's one engine, started on first use.</summary>
    public static async Task<DockerEngine> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _shared ??= await StartAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Stops the shared engine if one was started (at the end of the run).</summary>
    public static async Task StopSharedAsync()
    {
        if (_shared is { } engine)
        {
            _shared = null;
            await engine.DisposeAsync();
        }
    }

    private static async Task<DockerEngine> StartAsync()
    {
        var dockerd = FindOnPath("dockerd");
        var docker = FindOnPath("docker");
        if (dockerd is null || docker is null || !File.Exists("/bin/busybox"))
        {
            throw new InvalidOperationException(
                "Docker is not installed (dockerd, docker and /bin/busybox are needed). Run tools/test.sh, which installs " +
                "the Debian packages docker.io and busybox-static.");
        }
        var folder = Directory.CreateTempSubdirectory("buildserver-docker-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "data"));
        Directory.CreateDirectory(Path.Combine(folder, "exec"));
        // In its own session (a Ctrl+C of the test run does not reach it), its log in a file beside it.
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     "sh", "-c", $"exec \"$@\" >'{folder}/dockerd.log' 2>&1 </dev/null", "dockerd",
                     dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false",
                     "--data-root", Path.Combine(folder, "data"), "--exec-root", Path.Combine(folder, "exec"),
                     "--host", "unix://" + Path.Combine(folder, "docker.sock"), "--pidfile", Path.Combine(folder, "docker.pid"),
                 })
        {
            info.ArgumentList.Add(arg);
        }
        var daemon = Process.Start(info)!;
        var engine = new DockerEngine(folder, daemon);
        try
        {
            var clock = Stopwatch.StartNew();
            while (await RunAsync(docker, engine.Environment, null, "version") is { ExitCode: not 0 } attempt)
            {
                if (daemon.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new InvalidOperationException($"dockerd did not start: {attempt.Output}\n{ReadLog(folder)}");
                }
                await Task.Delay(100);
            }
            await engine.ImportBusyboxAsync(docker);
            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    private Dictionary<string, string> Environment => new() { ["DOCKER_HOST"] = Endpoint.ToString() };

    /// <summary><c>busybox --install -s</c> in a chroot, then <c>tar | docker import</c>, as DOCKER.md says.</summary>
    private async Task ImportBusyboxAsync(string docker)
    {
        var root = Directory.CreateTempSubdirectory("buildserver-busybox-").FullName;
        try
        {
            foreach (var dir in new[] { "bin", "tmp", "etc" }) Directory.CreateDirectory(Path.Combine(root, dir));
            File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
            await Check(await RunAsync("chroot", null, null, root, "/bin/busybox", "--install", "-s", "/bin"));
            await Check(await RunAsync("sh", Environment, null, "-c", $"tar -C '{root}' -c . | '{docker}' import - {BusyboxImage}"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        static Task Check((int ExitCode, string Output) result) =>
            result.ExitCode == 0 ? Task.CompletedTask : throw new InvalidOperationException("Importing busybox failed: " + result.Output);
    }

    /// <summary>Stops dockerd by its pid, then unmounts what it left under its folder and removes the folder and
    /// the empty cgroup and run folders it created.</summary>
    public async ValueTask DisposeAsync()
    {
        var pid = File.Exists(Path.Combine(_folder, "docker.pid")) && int.TryParse(File.ReadAllText(Path.Combine(_folder, "docker.pid")).Trim(), out var p)
            ? p
            : _daemon.Id;
        Processes.Signal(pid, Processes.SigTerm);
        var clock = Stopwatch.StartNew();
        while (!Processes.HasEnded(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(50);
        }
        await _daemon.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token).ContinueWith(_ => { }, TaskScheduler.Default);
        _daemon.Dispose();
        var mounts = File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1])
            .Where(m => m.StartsWith(_folder + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length);
        foreach (var mount in mounts)
        {
            await RunAsync("umount", null, null, "-l", mount);
        }
        // Shared by every engine on the machine: only when no other dockerd runs (another test run's may need them).
        if (Processes.WithCommandLine("dockerd --").Count == 0)
        {
            foreach (var dir in Directory.GetDirectories("/sys/fs/cgroup").Select(d => Path.Combine(d, "docker")).Append("/run/docker").Append("/run/containerd"))
            {
                RemoveEmptyFolders(dir);
            }
        }
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await TestContext.Progress.WriteLineAsync($"Could not remove the Docker test folder {_folder}: {e.Message}");
        }
    }

    /// <summary>rmdir bottom-up: a folder still holding files (or a cgroup holding processes) stays.</summary>
    private static void RemoveEmptyFolders(string dir)
    {
        if (!Directory.Exists(dir)) return;
        try
        {
            foreach (var sub in Directory.GetDirectories(dir)) RemoveEmptyFolders(sub);
            Directory.Delete(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // not empty, or in use: not ours to force
        }
    }

    private static string? FindOnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':')
        .Append("/usr/sbin").Append("/sbin")
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string ReadLog(string folder)
    {
        var log = Path.Combine(folder, "dockerd.log");
        return File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no dockerd.log)";
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, Dictionary<string, string>? env, string? workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? []) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await error + await output);
    }
}
