namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>The caps that keep a workflow file's cost bounded, besides YAML nesting and aliases.</summary>
internal static class WorkflowLimits
{
    public const int MaxJobs = 500;
    public const int MaxStepsPerJob = 1000;
    public const int MaxMatrixCombinations = 256;

    /// <summary>Errors reported per file; past this a file is more noise than workflow.</summary>
    public const int MaxErrors = 1000;
}

/// <summary>
/// Reads a GitHub-Actions-compatible workflow (plus BuildServer's extensions) with YamlDotNet, checks every key,
/// type and expression, and reports every error with its line and column. Stateless, so one instance serves all.
/// </summary>
internal sealed class WorkflowParser(IStepKindRegistry kinds) : IWorkflowParser
{
    public const string InternalErrorPrefix = "Internal error while reading the workflow";

    public WorkflowParseResult Parse(string yaml)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        if (yaml.Length > PipelineLimits.MaxBytes)
        {
            return Fail(new SourcePos(1, 1), $"The workflow file is larger than {PipelineLimits.MaxBytes / 1024} KiB.");
        }
        try
        {
            return ParseUnguarded(yaml);
        }
#pragma warning disable CA1031 // The contract is "never throws": a bug here must become an error, not a failed request.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(new SourcePos(1, 1), $"{InternalErrorPrefix} ({e.GetType().Name}); please report it with the file.");
        }
    }

    /// <summary>The parse itself, letting a bug's exception through (the fuzz tests call this to see it).</summary>
    internal WorkflowParseResult ParseUnguarded(string yaml)
    {
        // Editors hide a byte-order mark; columns count from the first visible character.
        if (yaml.StartsWith('\uFEFF')) yaml = yaml[1..];
        var loaded = YamlLoader.Load(yaml);
        if (loaded.Root is null)
        {
            return loaded.Problems is [var problem, ..]
                ? Fail(SourceMap.At(problem.At), problem.Message)
                : Fail(new SourcePos(1, 1), "The workflow file is empty: it needs at least 'jobs'.");
        }
        var reader = new WorkflowReader(yaml, kinds);
        foreach (var problem in loaded.Problems) reader.Error(SourceMap.At(problem.At), problem.Message);
        var workflow = reader.ReadWorkflow(loaded.Root);
        var errors = reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
        if (errors.Count > WorkflowLimits.MaxErrors)
        {
            var last = errors[WorkflowLimits.MaxErrors - 1];
            var more = errors.Count - WorkflowLimits.MaxErrors + 1;
            errors = [.. errors.Take(WorkflowLimits.MaxErrors - 1), last with { Message = $"{more} more errors from here on are not shown; fix the ones above first.", Job = null }];
        }
        return new WorkflowParseResult(errors.Count == 0 ? workflow : null, errors);
    }

    private static WorkflowParseResult Fail(SourcePos at, string message) => new(null, [new WorkflowError(at.Line, at.Column, message)]);
}
