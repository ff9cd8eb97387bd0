namespace BuildServer.Modules.Pipelines;

/// <summary>A validated pipeline: its jobs in a dependency order (every job after all of its needs).</summary>
public sealed record PipelineDefinition(string? Name, IReadOnlyDictionary<string, string> Env, IReadOnlyList<JobDefinition> Jobs);

public sealed record JobDefinition(
    string Key,
    string Name,
    IReadOnlyList<string> Needs,
    IReadOnlyList<string> RunsOn,
    IReadOnlyDictionary<string, string> Env,
    IReadOnlyList<StepDefinition> Steps);

public sealed record StepDefinition(string Name, string Run, IReadOnlyDictionary<string, string> Env);

/// <summary>An error in a pipeline file, at a 1-based line and column.</summary>
public sealed record PipelineError(int Line, int Column, string Message, string? Job = null)
{
    public override string ToString() => $"{Line}:{Column}: {Message}";
}

public sealed record PipelineParseResult(PipelineDefinition? Pipeline, IReadOnlyList<PipelineError> Errors)
{
    public bool IsValid => Pipeline is not null && Errors.Count == 0;
}

public static class PipelineLimits
{
    /// <summary>The largest pipeline file accepted, in characters.</summary>
    public const int MaxBytes = 1024 * 1024;
}

/// <summary>The Pipelines module's contract: YAML in, a validated plan or every error found out.</summary>
public interface IPipelineParser
{
    PipelineParseResult Parse(string yaml);
}
