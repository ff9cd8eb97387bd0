using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// A parsed GitHub Actions expression (the inside of <c>${{ }}</c>, or an <c>if:</c> condition): parse once when the
/// pipeline is validated, evaluate when it runs. Parsing and evaluation throw only <see cref="ExpressionException"/>.
/// </summary>
public sealed class Expression
{
    private readonly Node _root;

    private Expression(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    /// <summary>The text that was parsed.</summary>
    public string Text { get; }

    /// <summary>Parses an expression written without <c>${{ }}</c>.</summary>
    /// <exception cref="ExpressionException">A syntax error, an unknown or disallowed function or context, a wrong number of arguments, or a limit exceeded.</exception>
    public static Expression Parse(string text, ExpressionParseOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        return new Expression(text, Parser.Parse(text, 0, text.Length, options));
    }

    /// <summary>As <see cref="Parse"/>, returning the error instead of throwing it.</summary>
    public static bool TryParse(string text, ExpressionParseOptions options,
        [NotNullWhen(true)] out Expression? expression, [NotNullWhen(false)] out ExpressionError? error) =>
        Try(() => Parse(text, options), out expression, out error);

    /// <summary>
    /// Parses an <c>if:</c> value as GitHub does: a bare expression, or text with <c>${{ }}</c> (exactly one
    /// <c>${{ }}</c> is that expression; anything around it makes the condition an interpolated string, true unless
    /// empty). Unless it calls success(), failure(), cancelled() or always(), it means <c>success() &amp;&amp; (...)</c>;
    /// an empty value means <c>success()</c>.
    /// </summary>
    /// <exception cref="ExpressionException">As for <see cref="Parse"/>; offsets are within <paramref name="condition"/>.</exception>
    public static Expression ParseCondition(string condition, ExpressionParseOptions options)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(options);
        var success = new CallNode(new Token(TokenKind.Identifier, 0, 0, "success"), Functions.Success, [], 0);
        if (condition.Trim().Length == 0) return new Expression(condition, success);
        Node root;
        if (ExpressionTemplate.ContainsExpression(condition))
        {
            var template = ExpressionTemplate.Parse(condition, options);
            root = template.IsSingleExpression ? template.Expressions[0] : new InterpolationNode(template);
        }
        else
        {
            root = Parser.Parse(condition, 0, condition.Length, options);
        }
        return new Expression(condition, CallsStatusFunction(root) ? root : new LogicalNode(true, [success, root]));
    }

    /// <summary>As <see cref="ParseCondition"/>, returning the error instead of throwing it.</summary>
    public static bool TryParseCondition(string condition, ExpressionParseOptions options,
        [NotNullWhen(true)] out Expression? expression, [NotNullWhen(false)] out ExpressionError? error) =>
        Try(() => ParseCondition(condition, options), out expression, out error);

    /// <summary>The value, as a detached JSON node (null for null; NaN and infinities as the strings "NaN", "Infinity", "-Infinity").</summary>
    /// <exception cref="ExpressionException">A function failed or a limit was exceeded; the offset is that of the failing part.</exception>
    public JsonNode? Evaluate(EvaluationContext context) => Run(context, Json.ToResultNode);

    /// <summary>Whether the value is truthy: anything but false, 0, -0, NaN, "" and null.</summary>
    /// <exception cref="ExpressionException">As for <see cref="Evaluate"/>.</exception>
    public bool EvaluateCondition(EvaluationContext context) => Run(context, Coercion.IsTruthy);

    /// <summary>The value as text, as in a template: null as "", numbers like 1 or 0.5, arrays and objects as JSON.</summary>
    /// <exception cref="ExpressionException">As for <see cref="Evaluate"/>.</exception>
    public string EvaluateToString(EvaluationContext context) => Run(context, Coercion.ToTemplateString);

    private T Run<T>(EvaluationContext context, Func<Value, T> convert)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new Evaluator(context).Run(_root, convert);
    }

    internal static bool CallsStatusFunction(Node root)
    {
        var pending = new Stack<Node>([root]);
        while (pending.TryPop(out var node))
        {
            if (node is CallNode { Function.IsStatus: true }) return true;
            foreach (var child in node.Children) pending.Push(child);
        }
        return false;
    }

    internal static bool Try<T>(Func<T> parse, [NotNullWhen(true)] out T? result, [NotNullWhen(false)] out ExpressionError? error)
        where T : class
    {
        try
        {
            result = parse();
            error = null;
            return true;
        }
        catch (ExpressionException e)
        {
            result = null;
            error = e.Error;
            return false;
        }
    }
}
