using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BuildServer.Modules.Pipelines.Expressions;

namespace BuildServer.Modules.Pipelines.Workflow;

/// <summary>
/// One reading of one workflow file: walks the YAML tree, builds the model and collects every error. The partial
/// files split it by area (triggers, jobs, steps, job values); this one holds the typed readers they share.
/// Messages name the key as a "where" string, e.g. <c>'timeout-minutes' of job 'build'</c>.
/// </summary>
internal sealed partial class WorkflowReader(string text, IStepKindRegistry kinds)
{
    private readonly List<WorkflowError> _errors = [];
    private readonly SourceMap _map = new(text);

    /// <summary>The job being read, so that errors name it.</summary>
    private string? _job;

    public IReadOnlyList<WorkflowError> Errors => _errors;

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]*$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberPattern();

    public void Error(SourcePos at, string message) => _errors.Add(new WorkflowError(at.Line, at.Column, message, _job));

    private void Error(YNode node, string message) => Error(Pos(node), message);

    private static SourcePos Pos(YNode node) => SourceMap.At(node.Start);

    /// <summary>Where a scalar's text starts (after an opening quote; a block scalar's first content line).</summary>
    private SourcePos TextPos(YNode node) => node is YScalar scalar ? _map.Locate(scalar, 0) : Pos(node);

    private static bool IsValidId(string id) => IdPattern().IsMatch(id);

    /// <summary>
    /// The entries of a mapping whose keys are all in <paramref name="allowed"/>; reports a non-mapping, non-string
    /// keys and unknown keys (with the allowed ones and a did-you-mean). An empty (null) value reads as no entries.
    /// </summary>
    private List<(string Key, YNode KeyNode, YNode Value)> Entries(YNode node, string what, IReadOnlyCollection<string>? allowed, bool nullIsEmpty = true)
    {
        var result = new List<(string, YNode, YNode)>();
        if (node is YScalar { IsNull: true } && nullIsEmpty) return result;
        if (node is not YMapping mapping)
        {
            Error(node, $"{Capitalized(what)} must be a mapping, not {node.Kind}.");
            return result;
        }
        foreach (var (keyNode, value) in mapping.Entries)
        {
            if (keyNode is not YScalar key)
            {
                Error(keyNode, $"Keys in {what} must be strings, not {keyNode.Kind}.");
                continue;
            }
            if (allowed is not null && !allowed.Contains(key.Value))
            {
                Error(keyNode, $"Unknown key '{key.Value}' in {what}.{Suggestions.DidYouMean(key.Value, allowed)} Allowed keys: {string.Join(", ", allowed)}.");
                continue;
            }
            result.Add((key.Value, keyNode, value));
        }
        return result;
    }

    private static string Capitalized(string what) => what.Length > 0 && char.IsLower(what[0]) ? char.ToUpperInvariant(what[0]) + what[1..] : what;

    /// <summary>A scalar's text (numbers and booleans as written); null and an error for a list or mapping.</summary>
    private string? Text(YNode node, string what)
    {
        if (node is YScalar scalar) return scalar.IsNull ? "" : scalar.Value;
        Error(node, $"{Capitalized(what)} must be a string, not {node.Kind}.");
        return null;
    }

    /// <summary>A scalar that may hold <c>${{ }}</c>, each expression checked against <paramref name="scope"/>.</summary>
    private Template? Template(YNode node, string what, ExpressionParseOptions scope)
    {
        if (Text(node, what) is not { } value) return null;
        var scalar = (YScalar)node;
        if (ExpressionTemplate.ContainsExpression(value) && !ExpressionTemplate.TryParse(value, scope, out _, out var error))
        {
            ExpressionError(scalar, what, error);
        }
        return new Template(value, TextPos(node));
    }

    /// <summary>An <c>if:</c> value: a bare condition or one with <c>${{ }}</c>.</summary>
    private Template? Condition(YNode node, string what, ExpressionParseOptions scope)
    {
        if (Text(node, what) is not { } value) return null;
        if (!Expression.TryParseCondition(value, scope, out _, out var error))
        {
            ExpressionError((YScalar)node, what, error);
        }
        return new Template(value, TextPos(node));
    }

    private void ExpressionError(YScalar scalar, string what, ExpressionError error) =>
        Error(_map.Locate(scalar, error.Offset), $"Invalid expression in {what}: {error.Message}");

    /// <summary>A number (optionally a whole one, at least <paramref name="min"/>) or an expression, kept as text.</summary>
    private Template? Number(YNode node, string what, ExpressionParseOptions scope, bool whole = false, double min = 0, double max = double.MaxValue)
    {
        var template = node is YScalar ? Template(node, what, scope) : null;
        if (template is null)
        {
            if (node is not YScalar) Error(node, $"{Capitalized(what)} must be a number or an expression, not {node.Kind}.");
            return null;
        }
        if (template.HasExpressions) return template;
        var ok = NumberPattern().IsMatch(template.Text)
            && double.TryParse(template.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            && (!whole || number == Math.Floor(number)) && number >= min && number <= max;
        if (!ok)
        {
            var range = max < double.MaxValue ? $" from {min} to {max}" : min > 0 ? $" of at least {min}" : "";
            Error(node, $"{Capitalized(what)} must be {(whole ? "a whole number" : "a number")}{range} or an expression, not '{template.Text}'.");
        }
        return template;
    }

    /// <summary><c>true</c>/<c>false</c> or an expression, kept as text.</summary>
    private Template? Boolean(YNode node, string what, ExpressionParseOptions scope)
    {
        var template = node is YScalar ? Template(node, what, scope) : null;
        if (template is null)
        {
            if (node is not YScalar) Error(node, $"{Capitalized(what)} must be true, false or an expression, not {node.Kind}.");
            return null;
        }
        if (template.HasExpressions) return template;
        if (ParseBoolean(template.Text) is { } value) return template with { Text = value ? "true" : "false" };
        Error(node, $"{Capitalized(what)} must be true, false or an expression, not '{template.Text}'.");
        return template;
    }

    private static bool? ParseBoolean(string text) => text switch
    {
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        _ => null,
    };

    /// <summary>A string or a list of strings (each a scalar).</summary>
    private List<YScalar> StringList(YNode node, string what)
    {
        switch (node)
        {
            case YScalar { IsNull: true }:
                return [];
            case YScalar scalar:
                return [scalar];
            case YSequence sequence:
                var items = new List<YScalar>();
                foreach (var item in sequence.Items)
                {
                    if (item is YScalar s) items.Add(s);
                    else Error(item, $"Each item of {what} must be a string, not {item.Kind}.");
                }
                return items;
            default:
                Error(node, $"{Capitalized(what)} must be a string or a list of strings, not {node.Kind}.");
                return [];
        }
    }

    /// <summary>A mapping of names to scalar values that may hold expressions (env, with, outputs, secrets).</summary>
    private Dictionary<string, Template> TemplateMap(YNode node, string what, ExpressionParseOptions scope, bool envNames = false)
    {
        var result = new Dictionary<string, Template>(StringComparer.Ordinal);
        foreach (var (key, keyNode, value) in Entries(node, what, null))
        {
            if (envNames && (key.Length == 0 || key.Contains('=', StringComparison.Ordinal) || key.Contains('\0', StringComparison.Ordinal)))
            {
                Error(keyNode, $"'{key}' in {what} is not a valid environment variable name.");
                continue;
            }
            if (Template(value, $"'{key}' in {what}", scope) is { } template) result[key] = template;
        }
        return result;
    }

    /// <summary>The YAML as JSON (plain scalars typed by YAML's core schema); string leaves with <c>${{ }}</c> are
    /// checked against <paramref name="scope"/> when one is given. Depth is bounded by the loader.</summary>
    private JsonNode? Json(YNode node, string what, ExpressionParseOptions? scope)
    {
        switch (node)
        {
            case YScalar scalar:
                if (scope is not null && ExpressionTemplate.ContainsExpression(scalar.Value)) Template(scalar, what, scope);
                return Scalar(scalar);
            case YSequence sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Items) array.Add(Json(item, what, scope));
                return array;
            default:
                var json = new JsonObject();
                foreach (var (key, _, value) in Entries(node, what, null)) json[key] = Json(value, what, scope);
                return json;
        }
    }

    private static JsonValue? Scalar(YScalar scalar)
    {
        if (!scalar.IsPlain) return JsonValue.Create(scalar.Value);
        if (scalar.IsNull) return null;
        if (ParseBoolean(scalar.Value) is { } flag) return JsonValue.Create(flag);
        var text = scalar.Value;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)) return JsonValue.Create(whole);
        if (text.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex)) return JsonValue.Create(hex);
        if (NumberPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(text);
    }

    private static bool HasExpressions(YNode node)
    {
        var pending = new Stack<YNode>([node]);
        var visited = 0;
        while (pending.TryPop(out var current) && visited++ < 1_000_000)
        {
            switch (current)
            {
                case YScalar scalar when ExpressionTemplate.ContainsExpression(scalar.Value):
                    return true;
                case YSequence sequence:
                    sequence.Items.ForEach(pending.Push);
                    break;
                case YMapping mapping:
                    foreach (var (key, value) in mapping.Entries)
                    {
                        pending.Push(key);
                        pending.Push(value);
                    }
                    break;
            }
        }
        return false;
    }
}
