using System.Formats.Tar;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>One attempt's VM. A step travels to the guest as a tar (its script, a runner script with its environment,
/// and the runner's file-command and event files of the host's temp folder); its output comes back live on the
/// stdout and stderr ports; the answer carries the exit code, the guest's OOM kills during the step and a tar of
/// the file commands the step wrote (GITHUB_ENV, GITHUB_OUTPUT...), unpacked into the host's temp folder.
/// The workspace lives on the job disk while the job runs; an explicit workspace (<c>buildserver run</c>) gets it
/// back (<c>debugfs rdump</c>) after the VM has powered off.</summary>
internal sealed partial class MicroVmExecution(MicroVmExecutor executor, ExecutionRequest request, GuestVm guest, string root, string stage,
    string? warning) : IExecution
{
    public const string WorkspacePath = MicroVmExecutor.GuestRoot + "/workspace";
    public const string TempPath = MicroVmExecutor.GuestRoot + "/_temp";
    public const string StepsPath = MicroVmExecutor.GuestRoot + "/_steps";

    /// <summary>The reason given for a step the guest's kernel killed for memory.</summary>
    public const string OomReason = "out of memory (OOM-killed in the VM)";

    /// <summary>The reason given for a step that finds the job's VM gone (a cancel, a timeout, the VM died).</summary>
    public const string GoneReason = "the job's VM is gone";

    // Folders of the host's temp folder the runtime writes before a step and reads after it.
    private static readonly string[] RunnerFolders = ["_runner_file_commands", "_github_workflow"];
    private const string GuestPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly Dictionary<string, (long Length, DateTime Written)> _sent = new(StringComparer.Ordinal);
    private string? _warning = warning;
    private bool _gone;

    public string Workspace => WorkspacePath;

    public string TempFolder => TempPath;

    public string ToHostPath(string stepPath)
    {
        ArgumentNullException.ThrowIfNull(stepPath);
        if (Under(stepPath, WorkspacePath) is { } inWorkspace) return Path.Combine(stage, "workspace", inWorkspace);
        if (Under(stepPath, TempPath) is { } inTemp) return Path.Combine(stage, "_temp", inTemp);
        throw new ArgumentException($"'{stepPath}' is neither in the workspace nor in the temp folder", nameof(stepPath));
    }

    private static string? Under(string path, string folder) =>
        path == folder ? "" : path.StartsWith(folder + "/", StringComparison.Ordinal) ? path[(folder.Length + 1)..] : null;

    public async ValueTask<bool> DirectoryExistsAsync(string stepPath, CancellationToken cancellationToken)
    {
        if (_gone || stepPath.Contains('\n', StringComparison.Ordinal)) return false;
        await guest.SendAsync($"DIR {stepPath}", ReadOnlyMemory<byte>.Empty, cancellationToken);
        return await guest.ReadLineAsync(cancellationToken) == "DIR 1";
    }

    public async Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(executionStep);
        ArgumentNullException.ThrowIfNull(output);
        if (_warning is { } warning)
        {
            output.Line($"Note: {warning}.", OutputChannel.Stderr);
            _warning = null;
        }
        if (_gone || guest.HasExited) return Gone(output, cancellationToken.IsCancellationRequested);

        var index = executionStep.Index;
        var payload = StepFiles(executionStep);
        var ends = guest.Attach(output, index);
        var cancelled = false;
        try
        {
            string? done;
            await using (cancellationToken.Register(() =>
                         {
                             cancelled = true;
                             guest.Kill(); // at once: the VM and everything in it
                         }))
            {
                await guest.SendAsync($"STEP {index.ToString(CultureInfo.InvariantCulture)} {payload.Length.ToString(CultureInfo.InvariantCulture)}",
                    payload, CancellationToken.None);
                done = await guest.ReadLineAsync(CancellationToken.None);
            }
            if (cancelled) return Cancelled();
            if (done is null || Done().Match(done) is not { Success: true } answer ||
                int.Parse(answer.Groups["step"].Value, CultureInfo.InvariantCulture) != index)
            {
                return Died(output, done);
            }
            var back = await guest.ReadBytesAsync(int.Parse(answer.Groups["size"].Value, CultureInfo.InvariantCulture), CancellationToken.None);
            if (back is null) return Died(output, null);
            await Task.WhenAny(Task.WhenAll(ends), Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));
            await UnpackAsync(back);
            var exitCode = int.Parse(answer.Groups["rc"].Value, CultureInfo.InvariantCulture);
            if (exitCode == 137 && int.Parse(answer.Groups["oom"].Value, CultureInfo.InvariantCulture) > 0)
            {
                output.Line($"The step was stopped: {OomReason}; the VM's memory ({executor.Options.MemoryMb} MiB) is too small for it.", OutputChannel.Stderr);
                return new StepResult(exitCode, Cancelled: false, OomReason);
            }
            return new StepResult(exitCode, Cancelled: false);
        }
        catch (IOException) when (cancelled)
        {
            return Cancelled();
        }
        catch (IOException)
        {
            return Died(output, null);
        }
        finally
        {
            guest.Attach(null, -1);
        }

        StepResult Cancelled()
        {
            _gone = true;
            return new StepResult(137, Cancelled: true);
        }
    }

    [GeneratedRegex(@"^DONE (?<step>\d+) (?<rc>\d+) (?<oom>-?\d+) (?<size>\d+)$")]
    private static partial Regex Done();

    private static StepResult Gone(IOutputSink output, bool cancelled)
    {
        output.Line($"The step could not run: {GoneReason}.", OutputChannel.Stderr);
        return new StepResult(125, cancelled, GoneReason);
    }

    /// <summary>The guest stopped answering in the middle of a step: the VM died (a panic, the time limit, killed).
    /// An infrastructure failure, told with the console's last lines.</summary>
    private StepResult Died(IOutputSink output, string? answer)
    {
        _gone = true;
        guest.Kill();
        var why = answer is null ? "the VM died during the step" : $"the VM answered '{answer}'";
        output.Line($"The step failed: {why}.", OutputChannel.Stderr);
        foreach (var line in guest.ConsoleTail("The VM's last console lines").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            output.Line(line, OutputChannel.Stderr);
        }
        return new StepResult(125, Cancelled: false, $"{why} (an infrastructure failure; the console's last lines are in the log)");
    }

    /// <summary>The step's tar: its script, its runner script, and the runtime's files that changed on the host.</summary>
    private byte[] StepFiles(ExecutionStep step)
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var number = step.Index.ToString(CultureInfo.InvariantCulture);
            var script = $"{StepsPath}/{number}{step.ScriptExtension}";
            Add(tar, $"_steps/{number}{step.ScriptExtension}", Encoding.UTF8.GetBytes(step.Script));
            Add(tar, $"_steps/{number}.run", Encoding.UTF8.GetBytes(RunScript(step, script)));
            foreach (var folder in RunnerFolders)
            {
                var host = Path.Combine(stage, "_temp", folder);
                if (!Directory.Exists(host)) continue;
                foreach (var file in Directory.EnumerateFiles(host, "*", SearchOption.AllDirectories))
                {
                    var info = new FileInfo(file);
                    var name = $"_temp/{Path.GetRelativePath(Path.Combine(stage, "_temp"), file)}";
                    if (_sent.TryGetValue(name, out var sent) && sent == (info.Length, info.LastWriteTimeUtc)) continue;
                    Add(tar, name, File.ReadAllBytes(file));
                    _sent[name] = (info.Length, info.LastWriteTimeUtc);
                }
            }
        }
        return buffer.ToArray();
    }

    private static void Add(TarWriter tar, string name, byte[] content)
    {
        // ustar: what busybox tar reads without extensions (the names are short)
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(content),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        tar.WriteEntry(entry);
    }

    /// <summary>What the guest runs for a step, with a clean environment: the exports, the working directory, then
    /// the step's shell on its script (GitHub's rule for images without bash: the default shell is <c>sh -e</c>).</summary>
    private string RunScript(ExecutionStep step, string script)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOME"] = "/root",
            ["LANG"] = "C.UTF-8",
        };
        foreach (var (k, v) in request.Env) env[k] = v;
        foreach (var (k, v) in step.Env) env[k] = v;
        env["PATH"] = step.PrependPath is { Count: > 0 } prepend ? string.Join(':', [.. prepend, GuestPath]) : GuestPath;
        env["TMPDIR"] = env["RUNNER_TEMP"] = TempPath;
        env["GITHUB_WORKSPACE"] = env["BUILDSERVER_WORKSPACE"] = WorkspacePath;
        env[ShellExecutor.AttemptMarker] = request.AttemptId.ToString(CultureInfo.InvariantCulture);

        var text = new StringBuilder();
        foreach (var (name, value) in env)
        {
            if (EnvName().IsMatch(name)) text.Append("export ").Append(name).Append('=').Append(Quote(value)).Append('\n');
        }
        var directory = step.WorkingDirectory ?? WorkspacePath;
        text.Append("cd ").Append(Quote(directory)).Append(" || exit 1\n");
        var command = step.Shell == ExecutionStep.DefaultShell && !guest.HasBash
            ? ["sh", "-e", script]
            : ShellExecution.ShellCommand(step.Shell, script);
        text.Append("exec ").AppendJoin(' ', command.Select(Quote)).Append('\n');
        return text.ToString();
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The file commands the step wrote, into the host's temp folder (only under it: names are checked).</summary>
    private async Task UnpackAsync(byte[] archive)
    {
        var temp = Path.GetFullPath(Path.Combine(stage, "_temp"));
        await using var reader = new TarReader(new MemoryStream(archive));
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            var name = entry.Name.StartsWith("_temp/", StringComparison.Ordinal) ? entry.Name["_temp/".Length..] : null;
            var target = name is null ? null : Path.GetFullPath(Path.Combine(temp, name));
            if (target is null || !target.StartsWith(temp + "/", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            await using (var file = File.Create(target))
            {
                await entry.DataStream.CopyToAsync(file);
            }
            var info = new FileInfo(target);
            _sent[$"_temp/{name}"] = (info.Length, info.LastWriteTimeUtc); // the guest has this version already
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Only a workspace that goes back out needs the guest to flush the job disk; otherwise the disk is dropped,
            // and killing the VM is as good as powering it off, and quicker.
            var copyOut = request.Workspace is not null || executor.Options.KeepWorkFolders;
            if (copyOut && !_gone && !guest.HasExited)
            {
                // A clean power-off: the guest ends the job's processes and flushes the job disk.
                await guest.SendAsync("FINISH", ReadOnlyMemory<byte>.Empty, CancellationToken.None);
                using var finishing = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await guest.ReadLineAsync(finishing.Token);
                await guest.WaitForExitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            executor.Logger.LogWarning("The VM of attempt {Attempt} did not power off cleanly; it is killed", request.AttemptId);
        }
        await guest.DisposeAsync();
        if (request.Workspace is { } given && !_gone) await CopyOutAsync(given);
        executor.Forget(root);
    }

    /// <summary>The workspace as the job left it, back into the folder it came from.</summary>
    private async Task CopyOutAsync(string workspace)
    {
        var outFolder = Path.Combine(root, "out");
        try
        {
            Directory.CreateDirectory(outFolder);
            await Tools.RunAsync("debugfs", ["-R", $"rdump /workspace {outFolder}", Path.Combine(root, "disk.img")], CancellationToken.None);
            await Tools.RunAsync("cp", ["-a", $"{Path.Combine(outFolder, "workspace")}/.", Path.GetFullPath(workspace)], CancellationToken.None);
        }
        catch (ExecutorException e)
        {
            executor.Logger.LogWarning("Could not copy the VM's workspace back to {Workspace}: {Reason}", workspace, e.Message);
        }
    }
}
