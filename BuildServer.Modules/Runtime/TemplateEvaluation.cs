using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BuildServer.Modules.Pipelines.Expressions;
using BuildServer.Modules.Pipelines.Workflow;

namespace BuildServer.Modules.Runtime;

/// <summary>An expression that failed at run time, as a reason naming the key and its place in the file.</summary>
internal sealed class KeyEvaluationException(string message, Exception inner) : Exception(message, inner);

/// <summary>Evaluates a key's <see cref="Template"/>; any expression error becomes a
/// <see cref="KeyEvaluationException"/> whose message is <c>key (line:col): what is wrong</c>.</summary>
internal static class TemplateEvaluation
{
    public static string String(Template template, string key, ExpressionParseOptions options, EvaluationContext context) =>
        Evaluate(template, key, () => template.HasExpressions ? ExpressionTemplate.Parse(template.Text, options).Evaluate(context) : template.Text);

    public static JsonNode? Value(Template template, string key, ExpressionParseOptions options, EvaluationContext context) =>
        Evaluate(template, key, () => template.HasExpressions
            ? ExpressionTemplate.Parse(template.Text, options).EvaluateValue(context)
            : JsonValue.Create(template.Text));

    public static bool Condition(Template? template, string key, ExpressionParseOptions options, EvaluationContext context) =>
        Evaluate(template ?? new Template("", default), key,
            () => Expression.ParseCondition(template?.Text ?? "", options).EvaluateCondition(context));

    /// <summary>A boolean key (<c>continue-on-error</c>): true, "true", or a non-zero number.</summary>
    public static bool Flag(Template? template, string key, ExpressionParseOptions options, EvaluationContext context)
    {
        if (template is null) return false;
        var value = Value(template, key, options, context);
        return value?.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.String => string.Equals(value.GetValue<string>().Trim(), "true", StringComparison.OrdinalIgnoreCase),
            JsonValueKind.Number => Number(value) != 0,
            _ => false,
        };
    }

    /// <summary>A number of minutes (<c>timeout-minutes</c>); fractions allowed; null when not set.</summary>
    public static double? Minutes(Template? template, string key, ExpressionParseOptions options, EvaluationContext context)
    {
        if (template is null) return null;
        var value = Value(template, key, options, context);
        double minutes = double.NaN;
        if (value?.GetValueKind() == JsonValueKind.Number) minutes = Number(value);
        else if (value?.GetValueKind() == JsonValueKind.String)
        {
            _ = double.TryParse(value.GetValue<string>().Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out minutes);
        }
        if (!(minutes > 0) || double.IsInfinity(minutes))
        {
            throw new KeyEvaluationException($"{key} ({template.Pos}): '{value?.ToJsonString() ?? "null"}' is not a positive number of minutes", new FormatException());
        }
        return minutes;
    }

    // Whatever CLR type backs the node (double, int, a JsonElement), its JSON text is the number.
    private static double Number(JsonNode value) => double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture);

    private static T Evaluate<T>(Template template, string key, Func<T> evaluate)
    {
        try
        {
            return evaluate();
        }
        catch (ExpressionException e)
        {
            throw new KeyEvaluationException($"{key} ({Locate(template, e.Error.Offset)}): {e.Error.Message}", e);
        }
    }

    /// <summary>The file position of an offset within the template's text (columns restart after a line break).</summary>
    internal static SourcePos Locate(Template template, int offset)
    {
        var (line, column) = (template.Pos.Line, template.Pos.Column);
        var text = template.Text;
        for (var i = 0; i < Math.Min(offset, text.Length); i++)
        {
            if (text[i] == '\n') (line, column) = (line + 1, 1);
            else column++;
        }
        return new SourcePos(line, column);
    }
}
