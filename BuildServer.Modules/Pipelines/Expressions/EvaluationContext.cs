using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>The job status behind <c>success()</c>, <c>failure()</c> and <c>cancelled()</c> (<c>always()</c> is always true).</summary>
public interface IExpressionStatus
{
    /// <summary>The value of <c>success()</c>: nothing before has failed and the run is not cancelled.</summary>
    bool Success { get; }

    /// <summary>The value of <c>failure()</c>: something before (a step, or a needed job) has failed.</summary>
    bool Failure { get; }

    /// <summary>The value of <c>cancelled()</c>: the run was cancelled.</summary>
    bool Cancelled { get; }
}

/// <summary>A fixed job status.</summary>
public sealed record ExpressionStatus(bool Success, bool Failure, bool Cancelled) : IExpressionStatus
{
    /// <summary>Nothing has failed and nothing is cancelled.</summary>
    public static ExpressionStatus Succeeded { get; } = new(true, false, false);
}

/// <summary>What an expression sees at run time.</summary>
public sealed class EvaluationContext
{
    private readonly Dictionary<string, JsonNode?> _contexts;

    /// <param name="contexts">
    /// The contexts by name (<c>github</c>, <c>env</c>, <c>matrix</c>...). Names and property lookups are
    /// case-insensitive. The nodes are only read; evaluation results are copies.
    /// </param>
    /// <param name="status">The source of the status functions; null where they are not available.</param>
    /// <param name="workspaceRoot">The folder <c>hashFiles</c> searches; null where it is not available.</param>
    public EvaluationContext(IReadOnlyDictionary<string, JsonNode?> contexts, IExpressionStatus? status = null, string? workspaceRoot = null)
    {
        ArgumentNullException.ThrowIfNull(contexts);
        _contexts = new Dictionary<string, JsonNode?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in contexts) _contexts[name] = value;
        Status = status;
        WorkspaceRoot = workspaceRoot;
    }

    /// <summary>The source of <c>success()</c>, <c>failure()</c> and <c>cancelled()</c>.</summary>
    public IExpressionStatus? Status { get; }

    /// <summary>The folder <c>hashFiles</c> searches.</summary>
    public string? WorkspaceRoot { get; }

    internal bool TryGetContext(string name, out JsonNode? value) => _contexts.TryGetValue(name, out value);
}

/// <summary>Where an expression appears decides what it may use: the caller lists the contexts and functions allowed there.</summary>
public sealed class ExpressionParseOptions
{
    /// <param name="allowedContexts">The context names allowed (case-insensitive); any other is a parse error.</param>
    /// <param name="allowedFunctions">The function names allowed (case-insensitive); null for <see cref="GeneralFunctions"/>.</param>
    public ExpressionParseOptions(IEnumerable<string> allowedContexts, IEnumerable<string>? allowedFunctions = null)
    {
        ArgumentNullException.ThrowIfNull(allowedContexts);
        AllowedContexts = new HashSet<string>(allowedContexts, StringComparer.OrdinalIgnoreCase);
        AllowedFunctions = new HashSet<string>(allowedFunctions ?? GeneralFunctions, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The functions allowed everywhere: contains, startsWith, endsWith, format, join, toJSON, fromJSON.</summary>
    public static IReadOnlyList<string> GeneralFunctions { get; } = ["contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON"];

    /// <summary>The status functions, allowed in <c>if:</c> conditions: success, always, cancelled, failure.</summary>
    public static IReadOnlyList<string> StatusFunctions { get; } = ["success", "always", "cancelled", "failure"];

    /// <summary>The name of the function that hashes workspace files, allowed in steps.</summary>
    public const string HashFilesFunction = "hashFiles";

    /// <summary>The context names an expression may use here (case-insensitive).</summary>
    public IReadOnlySet<string> AllowedContexts { get; }

    /// <summary>The function names an expression may call here (case-insensitive).</summary>
    public IReadOnlySet<string> AllowedFunctions { get; }
}
