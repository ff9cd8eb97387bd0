using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace BuildServer.Modules.Executors;

/// <summary>One attempt on the shell executor: <c>&lt;root&gt;/workspace</c> is the job's folder,
/// <c>&lt;root&gt;/steps/N.ext</c> the step scripts, <c>&lt;root&gt;/tmp</c> its temp folder. Steps see host
/// paths, so <see cref="ToHostPath"/> is the identity.</summary>
internal sealed class ShellExecution : IExecution
{
    // Output still arriving after the step's shell exited comes from processes it left in the background;
    // wait this long for it, then stop reading so that such a process cannot hold the step open.
    private static readonly TimeSpan OutputDrain = TimeSpan.FromMilliseconds(500);
    private const int PipeBuffer = 64 * 1024;

    private readonly ShellExecutor _executor;
    private readonly ExecutionRequest _request;
    private readonly string _root;
    private readonly ShellExecutorOptions _options;
    private readonly ILogger _logger;
    private readonly List<int> _groups = [];

    public ShellExecution(ShellExecutor executor, ExecutionRequest request, string root, ShellExecutorOptions options, ILogger logger)
    {
        (_executor, _request, _root, _options, _logger) = (executor, request, root, options, logger);
        // An explicit workspace (buildserver run: the user's folder) is used as it is and never removed.
        Workspace = request.Workspace is { } given ? Path.GetFullPath(given) : Directory.CreateDirectory(Path.Combine(root, "workspace")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "steps"));
        TempFolder = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName;
    }

    public string Workspace { get; }

    public string TempFolder { get; }

    public string ToHostPath(string stepPath) => stepPath;

    public async Task<StepResult> RunStepAsync(ExecutionStep executionStep, IOutputSink output, CancellationToken cancellationToken)
    {
        var script = Path.Combine(_root, "steps", $"{executionStep.Index}{executionStep.ScriptExtension}");
        await File.WriteAllTextAsync(script, executionStep.Script, CancellationToken.None);
        using var process = new Process { StartInfo = StartInfo(script, executionStep) };
        process.Start();
        var pgid = process.Id; // setsid execs the shell in place: it leads a new session and process group
        lock (_groups) _groups.Add(pgid);
        process.StandardInput.Close();
        // Read through 64 KiB buffers (Process's own readers use 4 KiB): a step printing fast costs 16 times fewer reads.
        using var stdout = new StreamReader(process.StandardOutput.BaseStream, Encoding.UTF8, false, PipeBuffer);
        using var stderr = new StreamReader(process.StandardError.BaseStream, Encoding.UTF8, false, PipeBuffer);
        var readers = Task.WhenAll(
            PumpAsync(stdout, output, OutputChannel.Stdout),
            PumpAsync(stderr, output, OutputChannel.Stderr));

        var cancelled = false;
        var stopping = Task.CompletedTask;
        await using (cancellationToken.Register(() =>
                     {
                         cancelled = true;
                         stopping = StopAsync(pgid);
                     }))
        {
            await process.WaitForExitAsync(CancellationToken.None);
        }
        // Disposing the registration waited for a running callback: a cancelled step ends only when its whole
        // process group has (the shell may exit before the children it was waiting for).
        await stopping;
        if (!ProcessGroups.IsAlive(pgid))
        {
            lock (_groups) _groups.Remove(pgid); // nothing left behind: its number may be reused by someone else
        }
        await Task.WhenAny(readers, Task.Delay(OutputDrain, CancellationToken.None));
        return new StepResult(process.ExitCode, cancelled);
    }

    private ProcessStartInfo StartInfo(string script, ExecutionStep step)
    {
        var info = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = step.WorkingDirectory ?? Workspace,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            UseShellExecute = false,
        };
        // .NET ignores SIGPIPE and children inherit that; `env` restores the default before the shell starts, so
        // `yes | head -n 1` ends quietly as in a terminal instead of failing with "Broken pipe".
        info.ArgumentList.Add("env");
        info.ArgumentList.Add("--default-signal=PIPE");
        var command = ShellCommand(step.Shell, script);
        foreach (var arg in command)
        {
            info.ArgumentList.Add(arg);
        }
        // A clean environment: nothing of the server's own (connection strings, tokens) leaks into jobs.
        info.Environment.Clear();
        info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        info.Environment["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? Workspace;
        info.Environment["USER"] = Environment.GetEnvironmentVariable("USER") ?? "root";
        info.Environment["LANG"] = "C.UTF-8";
        info.Environment["TMPDIR"] = info.Environment["RUNNER_TEMP"] = Path.Combine(_root, "tmp");
        foreach (var (k, v) in _request.Env) info.Environment[k] = v;
        foreach (var (k, v) in step.Env) info.Environment[k] = v;
        if (step.PrependPath is { Count: > 0 } prepend)
        {
            info.Environment["PATH"] = string.Join(':', [.. prepend, info.Environment["PATH"]]);
        }
        info.Environment["GITHUB_WORKSPACE"] = info.Environment["BUILDSERVER_WORKSPACE"] = Workspace;
        if (Path.GetFileName(command[0]) == "bash")
        {
            // stderr joins stdout in one pipe so that a step's lines keep the order it wrote them in: bash sources
            // BASH_ENV before the script (line numbers unchanged), and the preamble unsets it for nested shells.
            // Other shells have no such hook; their two streams are merged as the lines arrive.
            info.Environment["BASH_ENV"] = _executor.StderrToStdoutPreamble;
        }
        info.Environment[ShellExecutor.AttemptMarker] = _request.AttemptId.ToString();
        info.Environment[ShellExecutor.WorkRootMarker] = _executor.WorkRoot;
        return info;
    }

    /// <summary>The shell template split on spaces, <c>{0}</c> replaced by the script's path (appended when absent).</summary>
    internal static List<string> ShellCommand(string template, string script)
    {
        var args = template.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (args.Count == 0) args = [.. ExecutionStep.DefaultShell.Split(' ')];
        if (!args.Any(a => a.Contains("{0}", StringComparison.Ordinal))) args.Add("{0}");
        return args.ConvertAll(a => a.Replace("{0}", script, StringComparison.Ordinal));
    }

    private static async Task PumpAsync(StreamReader reader, IOutputSink output, OutputChannel stream)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            output.Line(line, stream);
        }
    }

    /// <summary>Graceful first: SIGTERM to the group, then SIGKILL to what is left after the grace period;
    /// returns when nothing of the group runs any more.</summary>
    private async Task StopAsync(int pgid)
    {
        ProcessGroups.Signal(pgid, ProcessGroups.SigTerm);
        if (await ProcessGroups.WaitUntilGoneAsync(pgid, _options.KillGrace))
        {
            return;
        }
        if (ProcessGroups.Signal(pgid, ProcessGroups.SigKill))
        {
            _logger.LogInformation("Process group {Pgid} outlived its grace period and was killed", pgid);
        }
        await ProcessGroups.WaitUntilGoneAsync(pgid, KillSettle);
    }

    /// <summary>How long a SIGKILLed group may take to be gone (delivery is asynchronous); a process stuck in
    /// uninterruptible sleep is not waited for longer.</summary>
    private static readonly TimeSpan KillSettle = TimeSpan.FromSeconds(2);

    /// <summary>Ends whatever the steps left running in the background, waits until it is gone, then removes
    /// the work folder.</summary>
    public async ValueTask DisposeAsync()
    {
        int[] groups;
        lock (_groups) groups = [.. _groups];
        foreach (var pgid in groups)
        {
            ProcessGroups.Signal(pgid, ProcessGroups.SigKill);
        }
        foreach (var pgid in groups)
        {
            await ProcessGroups.WaitUntilGoneAsync(pgid, KillSettle);
        }
        _executor.Forget(_root);
    }
}
