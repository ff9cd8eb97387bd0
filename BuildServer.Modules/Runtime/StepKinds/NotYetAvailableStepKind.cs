namespace BuildServer.Modules.Runtime.StepKinds;

/// <summary>A built-in step kind the workflow language accepts but this server cannot run yet: the step fails
/// with a reason saying so, rather than being silently skipped.</summary>
internal sealed class NotYetAvailableStepKind(string kind) : IStepKindHandler
{
    /// <summary>The built-in kinds that have no behaviour yet.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        ["checkout", "upload-artifact", "download-artifact", "cache", "cache-restore", "cache-save", "local-action"];

    public string Kind => kind;

    public Task<StepKindResult> RunAsync(StepKindInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        var reference = invocation.Step.Uses ?? kind;
        return Task.FromResult(StepKindResult.Failure($"'{reference}' is not yet available on this server"));
    }
}
