using System.Diagnostics;
using System.Text;

namespace BuildServer.Modules.Executors.MicroVm;

/// <summary>The host programs the microVM executor uses (<c>mke2fs</c>, <c>debugfs</c>, <c>cp</c>) and the host's
/// process table.</summary>
internal static class Tools
{
    /// <summary>Runs a program to its end; an <see cref="ExecutorException"/> naming it and its first error line when
    /// it is missing or fails.</summary>
    public static async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in arguments) info.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            var package = program is "mke2fs" or "debugfs" ? " (install e2fsprogs)" : "";
            throw new ExecutorException($"the microVM executor needs '{program}', which could not be started{package}: {e.Message}", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            var error = await errors;
            if (process.ExitCode != 0)
            {
                var first = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
                throw new ExecutorException($"{program} failed (exit code {process.ExitCode}): {first}");
            }
            return await output;
        }
    }

    /// <summary>Ids of the processes whose command line contains <paramref name="text"/> (not this process); only those
    /// running <paramref name="program"/> (the file name of their first argument) when given.</summary>
    public static List<int> ProcessesWhoseCommandLineHas(string text, string? program = null)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var commandLine = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline")));
                if (!commandLine.Replace('\0', ' ').Contains(text, StringComparison.Ordinal)) continue;
                var first = commandLine.Split('\0')[0];
                if (program is null || Path.GetFileName(first) == program) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // ended meanwhile
            }
        }
        return found;
    }
}
