using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;

namespace BuildServer.Tests.Pipelines.Expressions;

/// <summary>Parses and evaluates with every context name used by these tests and every function allowed.</summary>
internal static class ExpressionHarness
{
    public static readonly ExpressionParseOptions Options = new(
        ["github", "env", "matrix", "ctx"],
        [.. ExpressionParseOptions.GeneralFunctions, .. ExpressionParseOptions.StatusFunctions, ExpressionParseOptions.HashFilesFunction]);

    /// <summary>The contexts used unless a test passes its own: a bit of everything.</summary>
    public const string DefaultContexts = """
        {
          "github": { "sha": "abc123", "ref": "refs/heads/main", "event_name": "push" },
          "matrix": { "os": "linux", "node": 20 },
          "env": { "Name": "value" },
          "ctx": {
            "object": { "name": "Mona", "count": 3 },
            "other": { "name": "Mona", "count": 3 },
            "array": ["a", "b", "c"],
            "numbers": [1, 2, 3],
            "numbered": { "1": "one" },
            "empty": "",
            "zero": 0,
            "text": "hello"
          }
        }
        """;

    public static EvaluationContext Context(string contextsJson = DefaultContexts, IExpressionStatus? status = null, string? workspace = null)
    {
        var root = JsonNode.Parse(contextsJson)!.AsObject();
        var contexts = root.ToDictionary(p => p.Key, p => p.Value);
        return new EvaluationContext(contexts, status, workspace);
    }

    public static JsonNode? Evaluate(string expression, string contextsJson = DefaultContexts) =>
        Expression.Parse(expression, Options).Evaluate(Context(contextsJson));

    /// <summary>The result as compact JSON, so one string states both type and value ("1", "\"1\"", "null").</summary>
    public static string EvaluateJson(string expression, string contextsJson = DefaultContexts) =>
        Evaluate(expression, contextsJson)?.ToJsonString() ?? "null";

    public static string EvaluateString(string expression, string contextsJson = DefaultContexts) =>
        Expression.Parse(expression, Options).EvaluateToString(Context(contextsJson));

    public static bool IsTruthy(string expression) => Expression.Parse(expression, Options).EvaluateCondition(Context());

    public static ExpressionError ParseError(string expression, ExpressionParseOptions? options = null)
    {
        Assert.That(Expression.TryParse(expression, options ?? Options, out _, out var error), Is.False, "expected a parse error");
        return error!;
    }

    public static ExpressionError EvaluationError(string expression, string contextsJson = DefaultContexts)
    {
        var parsed = Expression.Parse(expression, Options);
        return Assert.Throws<ExpressionException>(() => parsed.Evaluate(Context(contextsJson)))!.Error;
    }
}
