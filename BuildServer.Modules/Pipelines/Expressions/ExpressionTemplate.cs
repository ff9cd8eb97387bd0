using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json.Nodes;

namespace BuildServer.Modules.Pipelines.Expressions;

/// <summary>
/// A string with <c>${{ expression }}</c> parts, such as <c>echo ${{ matrix.os }}-${{ github.sha }}</c>. An expression
/// ends at the first <c>}}</c> outside a single-quoted string literal, so <c>${{ format('}}') }}</c> is one expression.
/// </summary>
public sealed class ExpressionTemplate
{
    private const string Open = "${{";

    private readonly IReadOnlyList<object> _parts; // string literals and expression nodes, in order

    private ExpressionTemplate(string text, IReadOnlyList<object> parts)
    {
        Text = text;
        _parts = parts;
        Expressions = parts.OfType<Node>().ToList();
    }

    /// <summary>The template text that was parsed.</summary>
    public string Text { get; }

    /// <summary>Whether the text has any <c>${{ }}</c>; if not, it evaluates to itself.</summary>
    public bool HasExpressions => Expressions.Count > 0;

    /// <summary>Whether the text is exactly one <c>${{ }}</c> with nothing around it, so its value keeps its type.</summary>
    public bool IsSingleExpression => _parts is [Node];

    internal IReadOnlyList<Node> Expressions { get; }

    /// <summary>Whether <paramref name="text"/> has a <c>${{</c> and so is a template rather than a literal.</summary>
    public static bool ContainsExpression(string text) => text?.Contains(Open, StringComparison.Ordinal) == true;

    /// <summary>Splits the text into literals and expressions and parses each expression.</summary>
    /// <exception cref="ExpressionException">An unclosed <c>${{</c> or an invalid expression; offsets are within <paramref name="text"/>.</exception>
    public static ExpressionTemplate Parse(string text, ExpressionParseOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        var parts = new List<object>();
        var index = 0;
        while (index < text.Length)
        {
            var start = text.IndexOf(Open, index, StringComparison.Ordinal);
            if (start < 0)
            {
                parts.Add(text[index..]);
                break;
            }
            if (start > index) parts.Add(text[index..start]);
            var close = FindClose(text, start + Open.Length);
            if (close < 0)
            {
                throw ExpressionException.At(start, text.Length - start,
                    "The expression is not closed: a '${{' has no matching '}}' after it.");
            }
            parts.Add(Parser.Parse(text, start + Open.Length, close, options));
            index = close + 2;
        }
        return new ExpressionTemplate(text, parts);
    }

    /// <summary>As <see cref="Parse"/>, returning the error instead of throwing it.</summary>
    public static bool TryParse(string text, ExpressionParseOptions options,
        [NotNullWhen(true)] out ExpressionTemplate? template, [NotNullWhen(false)] out ExpressionError? error) =>
        Expression.Try(() => Parse(text, options), out template, out error);

    /// <summary>The index of the <c>}}</c> closing an expression whose text starts at <paramref name="from"/>, or -1.</summary>
    private static int FindClose(string text, int from)
    {
        var inString = false;
        for (var i = from; i < text.Length; i++)
        {
            // '' inside a string toggles twice, so escaped quotes need no special case
            if (text[i] == '\'') inString = !inString;
            else if (!inString && text[i] == '}' && i + 1 < text.Length && text[i + 1] == '}') return i;
        }
        return -1;
    }

    /// <summary>The text with each expression replaced by its value: null as "", arrays and objects as JSON.</summary>
    /// <exception cref="ExpressionException">An expression failed or the result is too long.</exception>
    public string Evaluate(EvaluationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Render(new Evaluator(context));
    }

    /// <summary>
    /// For a single expression, its value with its type (a number stays a number, an object an object); otherwise the
    /// interpolated string. Results are detached copies.
    /// </summary>
    /// <exception cref="ExpressionException">An expression failed or the result is too long.</exception>
    public JsonNode? EvaluateValue(EvaluationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return IsSingleExpression
            ? new Evaluator(context).Run(Expressions[0], Json.ToResultNode)
            : JsonValue.Create(Evaluate(context));
    }

    internal string Render(Evaluator evaluator)
    {
        var result = new StringBuilder();
        foreach (var part in _parts)
        {
            var text = part is Node node ? evaluator.Run(node, Coercion.ToTemplateString) : (string)part;
            if (result.Length + text.Length > Limits.MaxStringLength)
            {
                var offset = part is Node located ? located.Offset : 0;
                throw ExpressionException.At(offset, 0, $"The interpolated text is longer than {Limits.MaxStringLength} characters.");
            }
            result.Append(text);
        }
        return result.ToString();
    }
}
