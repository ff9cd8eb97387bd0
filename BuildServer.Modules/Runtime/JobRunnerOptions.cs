namespace BuildServer.Modules.Runtime;

/// <summary>The <c>Runtime</c> section of appsettings.json: what the <c>runner</c> context says about this agent.</summary>
public sealed class JobRunnerOptions
{
    /// <summary><c>runner.name</c> and <c>RUNNER_NAME</c>; the machine's name when not set.</summary>
    public string? RunnerName { get; set; }

    /// <summary><c>runner.tool_cache</c> and <c>RUNNER_TOOL_CACHE</c>; <c>data/tool-cache</c> when not set.</summary>
    public string? ToolCache { get; set; }

    /// <summary>How long steps that run after a cancel or a job timeout (<c>if: always()</c>, <c>cancelled()</c>)
    /// may take all together, GitHub's <c>cancel-timeout-minutes</c> (5 minutes).</summary>
    public TimeSpan CancelTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
