using BuildServer.Modules.Pipelines.Expressions;

namespace BuildServer.Modules.Runtime;

/// <summary>
/// Which contexts and functions each key the runtime evaluates may use, per GitHub's context availability
/// table (<c>ci</c> goes wherever <c>github</c> does). Using anything else fails that key, as in GitHub.
/// </summary>
internal static class ContextAvailability
{
    private static readonly string[] General = ExpressionParseOptions.GeneralFunctions.ToArray();
    private static readonly string[] WithHashFiles = [.. General, ExpressionParseOptions.HashFilesFunction];

    /// <summary>Top-level <c>env:</c>.</summary>
    public static ExpressionParseOptions WorkflowEnv { get; } = new(["github", "ci", "secrets", "inputs", "vars"], General);

    /// <summary><c>jobs.&lt;id&gt;.env</c>.</summary>
    public static ExpressionParseOptions JobEnv { get; } =
        new(["github", "ci", "needs", "strategy", "matrix", "vars", "secrets", "inputs"], General);

    /// <summary><c>defaults.run</c> (shell, working-directory).</summary>
    public static ExpressionParseOptions DefaultsRun { get; } =
        new(["github", "ci", "needs", "strategy", "matrix", "env", "vars", "inputs"], General);

    /// <summary><c>steps[*].if</c>: no secrets; the status functions.</summary>
    public static ExpressionParseOptions StepIf { get; } =
        new(["github", "ci", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"],
            [.. WithHashFiles, .. ExpressionParseOptions.StatusFunctions]);

    /// <summary><c>steps[*]</c>: name, run, with, env, shell, working-directory, timeout-minutes, continue-on-error.</summary>
    public static ExpressionParseOptions Step { get; } =
        new(["github", "ci", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"], WithHashFiles);

    /// <summary><c>jobs.&lt;id&gt;.outputs</c>.</summary>
    public static ExpressionParseOptions JobOutputs { get; } =
        new(["github", "ci", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"], General);
}
