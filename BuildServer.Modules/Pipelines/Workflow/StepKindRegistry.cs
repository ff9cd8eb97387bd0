namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>
/// Says that <c>uses: &lt;Action&gt;@&lt;ref&gt;</c> runs as the step kind <paramref name="Kind"/>. Plugins add
/// claims by registering more <see cref="StepKindClaim"/> singletons; the registry takes them all.
/// </summary>
/// <param name="Action">The action without its ref, e.g. <c>actions/checkout</c> (compared case-insensitively).</param>
/// <param name="Kind">The step kind the runner knows, e.g. <c>checkout</c>.</param>
public sealed record StepKindClaim(string Action, string Kind);

/// <summary>The built-in step kinds plus any claims registered in the container. Immutable, so thread-safe.</summary>
internal sealed class StepKindRegistry : IStepKindRegistry
{
    /// <summary>The kind of <c>uses: ./path</c> (an action in the repository itself).</summary>
    public const string LocalAction = "local-action";

    public static IReadOnlyList<StepKindClaim> BuiltIn { get; } =
    [
        new("actions/checkout", "checkout"),
        new("actions/upload-artifact", "upload-artifact"),
        new("actions/download-artifact", "download-artifact"),
        new("actions/cache", "cache"),
        new("actions/cache/restore", "cache-restore"),
        new("actions/cache/save", "cache-save"),
    ];

    private readonly Dictionary<string, string> _kinds = new(StringComparer.OrdinalIgnoreCase);

    public StepKindRegistry(IEnumerable<StepKindClaim> claims)
    {
        ArgumentNullException.ThrowIfNull(claims);
        foreach (var claim in BuiltIn.Concat(claims))
        {
            // A plugin may not silently take over a built-in action: the first claim wins.
            _kinds.TryAdd(claim.Action.Trim(), claim.Kind);
        }
    }

    public StepKindRegistry() : this([])
    {
    }

    public string? Resolve(string uses)
    {
        ArgumentNullException.ThrowIfNull(uses);
        if (uses.StartsWith("./", StringComparison.Ordinal) && uses.Length > 2) return LocalAction;
        var at = uses.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == uses.Length - 1) return null;
        return _kinds.GetValueOrDefault(uses[..at]);
    }
}
