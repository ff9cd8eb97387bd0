using BuildServer.Modules.Pipelines.Expressions;

namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>
/// The contexts and functions each workflow key allows in its expressions, after GitHub's "context availability"
/// table. <c>ci</c> is our alias of <c>github</c> and is allowed wherever <c>github</c> is; status functions
/// (success, failure, ...) only in <c>if</c>; <c>hashFiles</c> only in step-level keys.
/// </summary>
internal static class ExpressionScopes
{
    private static readonly string[] Status = [.. ExpressionParseOptions.StatusFunctions];
    private static readonly string[] HashFiles = [ExpressionParseOptions.HashFilesFunction];

    public static ExpressionParseOptions WorkflowLevel { get; } = Make(["inputs", "vars"]);

    public static ExpressionParseOptions WorkflowEnv { get; } = Make(["secrets", "inputs", "vars"]);

    public static ExpressionParseOptions CallOutput { get; } = Make(["jobs", "vars", "inputs"]);

    public static ExpressionParseOptions JobIf { get; } = Make(["needs", "vars", "inputs"], Status);

    public static ExpressionParseOptions Strategy { get; } = Make(["needs", "vars", "inputs"]);

    /// <summary>name, runs-on, environment, concurrency, container, services, timeout-minutes, continue-on-error.</summary>
    public static ExpressionParseOptions Job { get; } = Make(["needs", "strategy", "matrix", "vars", "inputs"]);

    public static ExpressionParseOptions JobEnv { get; } = Make(["needs", "strategy", "matrix", "vars", "secrets", "inputs"]);

    public static ExpressionParseOptions JobDefaults { get; } = Make(["needs", "strategy", "matrix", "env", "vars", "inputs"]);

    public static ExpressionParseOptions JobSecrets { get; } = Make(["needs", "strategy", "matrix", "secrets", "inputs", "vars"]);

    public static ExpressionParseOptions JobOutputs { get; } =
        Make(["needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"]);

    public static ExpressionParseOptions EnvironmentUrl { get; } =
        Make(["needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"]);

    public static ExpressionParseOptions ContainerEnv { get; } =
        Make(["needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs"]);

    public static ExpressionParseOptions Credentials { get; } = Make(["needs", "strategy", "matrix", "env", "vars", "secrets", "inputs"]);

    /// <summary>A step's name, run, env, with, shell, working-directory, timeout-minutes, continue-on-error.</summary>
    public static ExpressionParseOptions Step { get; } =
        Make(["needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"], HashFiles);

    public static ExpressionParseOptions StepIf { get; } =
        Make(["needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"], [.. Status, .. HashFiles]);

    private static ExpressionParseOptions Make(string[] contexts, string[]? functions = null) =>
        new(["github", "ci", .. contexts], [.. ExpressionParseOptions.GeneralFunctions, .. functions ?? []]);
}
