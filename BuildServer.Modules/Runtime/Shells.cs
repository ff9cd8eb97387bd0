using BuildServer.Modules.Executors;

namespace BuildServer.Modules.Runtime;

/// <param name="Command">The executor's shell template, with <c>{0}</c> for the script path.</param>
/// <param name="Wrap">Turns the step's <c>run</c> text into the script the shell gets.</param>
internal sealed record ShellChoice(string Command, string Extension, Func<string, string> Wrap);

/// <summary>GitHub's <c>shell:</c> values on Linux: bash (the default), sh, python, pwsh/powershell/cmd when the
/// agent has them, or a custom template with <c>{0}</c> (e.g. <c>perl {0}</c>).</summary>
internal static class Shells
{
    private static readonly Func<string, string> AsWritten = script => script;

    // GitHub's wrapping of pwsh scripts: stop at the first error, exit with the last native exit code.
    private static readonly Func<string, string> PowerShell = script =>
        "$ErrorActionPreference = 'stop'\n" + script +
        "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n";

    /// <summary>The shell to use, or a reason why the step cannot run.</summary>
    /// <param name="isAvailable">Whether a program (a name on the PATH, or a path) exists on the agent.</param>
    public static ShellChoice? Resolve(string? shell, Func<string, bool> isAvailable, out string? failure)
    {
        failure = null;
        var name = string.IsNullOrWhiteSpace(shell) ? "bash" : shell.Trim();
        var (choice, program) = name switch
        {
            "bash" => (new ShellChoice(ExecutionStep.DefaultShell, ".sh", AsWritten), "bash"),
            "sh" => (new ShellChoice("sh -e {0}", ".sh", AsWritten), "sh"),
            "python" => (new ShellChoice("python3 {0}", ".py", AsWritten), "python3"),
            "pwsh" => (new ShellChoice("pwsh -NoLogo -NoProfile -NonInteractive -File {0}", ".ps1", PowerShell), "pwsh"),
            "powershell" => (new ShellChoice("powershell -NoLogo -NoProfile -NonInteractive -File {0}", ".ps1", PowerShell), "powershell"),
            "cmd" => (new ShellChoice("cmd /D /E:ON /V:OFF /S /C CALL {0}", ".cmd", AsWritten), "cmd"),
            _ => (null, null),
        };
        if (choice is null)
        {
            if (!name.Contains("{0}", StringComparison.Ordinal))
            {
                failure = $"shell '{name}' is not known: a custom shell must contain {{0}} where the script's path goes (e.g. 'perl {{0}}')";
                return null;
            }
            program = name.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            choice = new ShellChoice(name, Extension(Path.GetFileName(program)), AsWritten);
        }
        if (!isAvailable(program!))
        {
            failure = program == name || name == "python"
                ? $"shell '{name}' is not available on this agent" + (name == "python" ? " (python3 was not found on the PATH)" : "")
                : $"shell '{name}': '{program}' is not available on this agent";
            return null;
        }
        return choice;
    }

    /// <summary>Whether <paramref name="program"/> is an executable file, or one in a folder of <paramref name="path"/>.</summary>
    public static bool Exists(string program, string path)
    {
        if (program.Contains('/', StringComparison.Ordinal)) return File.Exists(program);
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, program)));
    }

    private static string Extension(string program) => program switch
    {
        "bash" or "sh" or "dash" or "zsh" => ".sh",
        _ when program.StartsWith("python", StringComparison.Ordinal) => ".py",
        "pwsh" or "powershell" => ".ps1",
        _ => "",
    };
}
